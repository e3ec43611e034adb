{
    "name": "SDMK Integration: RegNakes",
    "summary": "Start and watch the RegNakes health-worker sync from Odoo",
    "version": "17.0.1.0.0",
    "category": "Human Resources",
    "license": "LGPL-3",
    "author": "RegNakes Sync developers",
    "website": "https://github.com/sdmk/regnakes-sync",
    "depends": ["base", "base_setup"],
    "data": [
        "security/security.xml",
        "security/ir.model.access.csv",
        "data/ir_cron.xml",
        "views/regnakes_batch_views.xml",
        "views/res_config_settings_views.xml",
    ],
    "installable": True,
    "application": False,
}
