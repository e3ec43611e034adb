"""A read-only mirror of the server's batches (the integration audit log), refreshed on demand."""

from odoo import _, api, fields, models

STATUSES = [
    ("running", "Running"),
    ("succeeded", "Succeeded"),
    ("partial", "Partial"),
    ("failed", "Failed"),
    ("cancelled", "Cancelled"),
    ("skipped", "Skipped"),
]


class RegnakesBatch(models.Model):
    _name = "sdmk.regnakes.batch"
    _description = "RegNakes sync batch"
    _order = "started_at desc"
    _rec_name = "batch_uid"

    batch_uid = fields.Char("Batch", required=True, index=True, readonly=True)
    trace_id = fields.Char(readonly=True)
    trigger = fields.Char(readonly=True)
    mode = fields.Char(readonly=True)
    status = fields.Selection(STATUSES, readonly=True)
    started_at = fields.Datetime(readonly=True)
    finished_at = fields.Datetime(readonly=True)
    duration_ms = fields.Integer(readonly=True)
    pages = fields.Integer(readonly=True)
    received = fields.Integer(readonly=True)
    inserted = fields.Integer(readonly=True)
    updated = fields.Integer(readonly=True)
    unchanged = fields.Integer(readonly=True)
    rejected = fields.Integer(readonly=True)
    failure_rate = fields.Float(digits=(5, 4), readonly=True)
    error = fields.Text(readonly=True)

    _sql_constraints = [
        ("batch_uid_unique", "unique(batch_uid)", "A batch is mirrored once."),
    ]

    @api.model
    def _values_from(self, batch):
        def ts(value):
            return value and value.replace("T", " ")[:19] or False

        return {
            "batch_uid": batch["id"],
            "trace_id": batch.get("trace_id"),
            "trigger": batch.get("trigger"),
            "mode": batch.get("mode"),
            "status": batch.get("status"),
            "started_at": ts(batch.get("started_at")),
            "finished_at": ts(batch.get("finished_at")),
            "duration_ms": batch.get("duration_ms") or 0,
            "pages": batch.get("pages") or 0,
            "received": batch.get("received") or 0,
            "inserted": batch.get("inserted") or 0,
            "updated": batch.get("updated") or 0,
            "unchanged": batch.get("unchanged") or 0,
            "rejected": batch.get("rejected") or 0,
            "failure_rate": batch.get("failure_rate") or 0.0,
            "error": batch.get("error"),
        }

    @api.model
    def _upsert(self, batches):
        for batch in batches:
            values = self._values_from(batch)
            existing = self.search([("batch_uid", "=", values["batch_uid"])], limit=1)
            if existing:
                existing.write(values)
            else:
                self.create(values)

    @api.model
    def action_refresh(self):
        client = self.env["sdmk.regnakes.client"]
        result = client.call("batch.list", {"limit": 50})
        self.sudo()._upsert(result["batches"])
        return {"type": "ir.actions.client", "tag": "reload"}

    @api.model
    def action_sync_now(self, mode="incremental", trigger="manual"):
        client = self.env["sdmk.regnakes.client"]
        result = client.call("sync.start", {"mode": mode, "trigger": trigger})
        self.sudo()._upsert([result["batch"]])
        message = (
            _("A sync is already running (batch %s).", result["batch"]["id"])
            if result["already_running"]
            else _("Sync started (batch %s).", result["batch"]["id"])
        )
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {"title": _("RegNakes"), "message": message, "sticky": False},
        }

    @api.model
    def cron_sync(self):
        """Odoo's scheduled action: start an incremental sync, then mirror the batch list."""
        self.action_sync_now(trigger="cron")
        self.action_refresh()
