from odoo import fields, models


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    regnakes_server_url = fields.Char(
        "RegNakes Sync server URL",
        config_parameter="sdmk_integration_regnakes.server_url",
        help="The address Odoo calls, e.g. http://regnakes-sync:8080",
    )
    regnakes_jwt_secret = fields.Char(
        "RegNakes Sync shared secret",
        config_parameter="sdmk_integration_regnakes.jwt_secret",
        groups="base.group_system",
        help="The server's RPC_JWT_SECRET: signs Odoo's tokens and the server's notifications.",
    )

    def action_regnakes_test_connection(self):
        self.ensure_one()
        service = self.env["sdmk.regnakes.service"]
        message = service.test_connection(self.regnakes_server_url, self.regnakes_jwt_secret)
        return service._notification(message)
