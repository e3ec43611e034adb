""""Sync now": a full or incremental sync, optionally for some professions only."""

from odoo import _, fields, models


class RegnakesSyncWizard(models.TransientModel):
    _name = "sdmk.regnakes.sync.wizard"
    _description = "Start a RegNakes sync"

    mode = fields.Selection(
        [("incremental", "Incremental (changes since the last sync)"), ("full", "Full (every record)")],
        required=True,
        default="incremental",
    )
    profession_ids = fields.Many2many(
        "sdmk.regnakes.profession",
        string="Professions",
        help="Leave empty to sync every profession.",
    )

    def action_start(self):
        self.ensure_one()
        service = self.env["sdmk.regnakes.service"]
        service._check_admin()
        result = service._call(
            "start",
            mode=self.mode,
            professions=self.profession_ids.mapped("code"),
            trigger="manual",
        )
        batch = self.env["sdmk.regnakes.batch"].sudo()._mirror([result["batch"]])
        if result.get("already_running"):
            message = _("A sync is already running (batch %s): no new one was started.", batch.batch_uid)
            kind = "warning"
        else:
            message = _("Sync started (batch %s). The dashboard follows its progress.", batch.batch_uid)
            kind = "success"
        return service._notification(message, kind, close_dialog=True)
