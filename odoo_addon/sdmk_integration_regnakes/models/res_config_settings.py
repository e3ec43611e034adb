from odoo import fields, models


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    regnakes_server_url = fields.Char(
        "RegNakes Sync server URL",
        config_parameter="sdmk_integration_regnakes.server_url",
    )
    regnakes_jwt_secret = fields.Char(
        "RegNakes Sync shared secret",
        config_parameter="sdmk_integration_regnakes.jwt_secret",
        groups="base.group_system",
    )
