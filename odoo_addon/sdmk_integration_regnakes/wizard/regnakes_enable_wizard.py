"""Switching the integration off (with a reason, audited on the server by login) or on again."""

from odoo import _, fields, models


class RegnakesEnableWizard(models.TransientModel):
    _name = "sdmk.regnakes.enable.wizard"
    _description = "Enable or disable the RegNakes integration"

    enabled = fields.Boolean(
        "Enable", help="Checked: syncs may run. Unchecked: every sync is refused or skipped."
    )
    reason = fields.Char(help="Recorded with your login in the server's audit log.")

    def action_apply(self):
        self.ensure_one()
        service = self.env["sdmk.regnakes.service"]
        enabled = service.set_enabled(self.enabled, self.reason)
        message = (
            _("The RegNakes integration is enabled.")
            if enabled
            else _("The RegNakes integration is disabled: no sync will run.")
        )
        kind = "success" if enabled else "warning"
        return service._notification(message, kind, close_dialog=True)
