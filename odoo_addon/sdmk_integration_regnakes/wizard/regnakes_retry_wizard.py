"""Retry a batch's rejected rows: read again from RegNakes and run through today's rules (batch.retry)."""

from odoo import _, fields, models

REASONS = [
    ("unknown_profession", "Unknown profession"),
    ("invalid_nik", "Invalid NIK"),
    ("invalid_str", "Invalid STR"),
    ("str_inactive", "STR not active"),
    ("str_expired", "STR expired"),
    ("masked_value", "Masked value"),
    ("invalid_birth_date", "Invalid birth date"),
    ("missing_field", "Missing field"),
    ("invalid_format", "Invalid format"),
    ("identity_conflict", "Identity conflict"),
    ("duplicate_str", "Duplicate STR"),
]


class RegnakesRetryWizard(models.TransientModel):
    _name = "sdmk.regnakes.retry.wizard"
    _description = "Retry rejected RegNakes rows"

    batch_id = fields.Many2one("sdmk.regnakes.batch", required=True, readonly=True)
    reason = fields.Selection(REASONS, help="Leave empty to retry rows of every reason.")
    str_numbers = fields.Text(
        "STR numbers", help="One per line or separated by commas; leave empty for every row."
    )

    def action_retry(self):
        self.ensure_one()
        numbers = [n.strip() for n in (self.str_numbers or "").replace(",", "\n").splitlines()]
        batch = self.env["sdmk.regnakes.batch"]._retry(
            self.batch_id.batch_uid,
            reasons=[self.reason] if self.reason else None,
            str_numbers=[n for n in numbers if n],
        )
        return self.env["sdmk.regnakes.service"]._notification(
            _("Retry started (batch %s). The dashboard follows its progress.", batch.batch_uid),
            "success",
            close_dialog=True,
        )
