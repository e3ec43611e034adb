{
    "name": "SDMK Integration: RegNakes",
    "summary": "Dashboard, Sync now, rejected rows and alerts of the RegNakes health-worker sync",
    "version": "17.0.4.0.0",
    "category": "Human Resources",
    "license": "LGPL-3",
    "author": "RegNakes Sync developers",
    "website": "https://github.com/sdmk/regnakes-sync",
    "depends": ["base_setup", "mail", "bus", "web"],
    "data": [
        "security/security.xml",
        "security/ir.model.access.csv",
        "data/sdmk.regnakes.profession.csv",
        "data/ir_cron.xml",
        "views/regnakes_batch_views.xml",
        "views/regnakes_wizard_views.xml",
        "views/res_config_settings_views.xml",
        "views/regnakes_menus.xml",
    ],
    "assets": {
        "web.assets_backend": [
            "sdmk_integration_regnakes/static/src/**/*",
        ],
        "web.assets_tests": [
            "sdmk_integration_regnakes/static/tests/tours/*.js",
        ],
    },
    "application": True,
}
