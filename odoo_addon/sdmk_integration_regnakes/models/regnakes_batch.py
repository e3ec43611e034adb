"""The server's batches (the integration audit log), mirrored for lists, graphs and activities.

Only summaries live here; rejected rows and health workers are read live from the server and never
stored in Odoo. The mirror is kept in step by the server's notification, the dashboard and a refresh.
"""

import datetime

from odoo import _, _lt, api, fields, models

from ..regnakes_sync_client import ROLE_ADMIN
from .regnakes_service import GROUP_ADMIN, GROUP_VERIFIKATOR, _rpc_safe

STATUSES = [
    ("running", "Running"),
    ("succeeded", "Succeeded"),
    ("partial", "Partial"),
    ("failed", "Failed"),
    ("cancelled", "Cancelled"),
    ("skipped", "Skipped"),
]
FINISHED = {"succeeded", "partial", "failed", "cancelled", "skipped"}
COUNTERS = ("pages", "received", "inserted", "updated", "unchanged", "rejected", "warnings", "missing")
BUS_TYPE = "sdmk_regnakes/batch"
# The server's `changed_fields` keys (domain::worker_fields), as the form shows them.
CHANGED_FIELD_LABELS = [
    ("name", _lt("Name")),
    ("birth", _lt("Birth")),
    ("profession", _lt("Profession")),
    ("str_number", _lt("STR number")),
    ("str_details", _lt("STR details")),
    ("str_validity", _lt("STR validity")),
    ("str_status", _lt("STR status")),
    ("licences", _lt("Licences")),
    ("address", _lt("Address")),
    ("unknown", _lt("Unknown")),
]


def _timestamp(value):
    """An RFC 3339 UTC time of the server as Odoo's naive UTC datetime string."""
    return value and value.replace("T", " ")[:19] or False


class RegnakesBatch(models.Model):
    _name = "sdmk.regnakes.batch"
    _description = "RegNakes sync batch"
    _inherit = ["mail.thread", "mail.activity.mixin"]
    _order = "started_at desc, id desc"
    _rec_name = "batch_uid"

    batch_uid = fields.Char("Batch", required=True, index=True, readonly=True)
    trace_id = fields.Char("Trace ID", readonly=True)
    trigger = fields.Selection(
        [
            ("schedule", "Server schedule"),
            ("cron", "Odoo cron"),
            ("manual", "Manual"),
            ("retry", "Retry of rejected rows"),
            ("review", "Review decision"),
        ],
        readonly=True,
    )
    mode = fields.Selection(
        [("incremental", "Incremental"), ("full", "Full")], readonly=True
    )
    status = fields.Selection(STATUSES, readonly=True, index=True, tracking=True)
    started_at = fields.Datetime(readonly=True)
    finished_at = fields.Datetime(readonly=True)
    duration_ms = fields.Integer("Duration (ms)", readonly=True)
    duration_seconds = fields.Float(
        "Duration (s)", compute="_compute_duration_seconds", store=True, group_operator="avg"
    )
    pages = fields.Integer(readonly=True)
    received = fields.Integer(readonly=True)
    inserted = fields.Integer(readonly=True)
    updated = fields.Integer(readonly=True)
    unchanged = fields.Integer(readonly=True)
    rejected = fields.Integer(readonly=True)
    warnings = fields.Integer(readonly=True)
    cancel_requested = fields.Boolean(
        readonly=True, help="A cancel was asked for: the sync stops at its next page."
    )
    failure_rate = fields.Float("Failure rate", digits=(5, 4), readonly=True, group_operator="avg")
    error = fields.Text(readonly=True)
    window_since = fields.Datetime(
        "Read from", readonly=True, help="Start of the upstream window the run read (inclusive)."
    )
    window_until = fields.Datetime(
        "Read until", readonly=True, help="End of the upstream window the run read (exclusive)."
    )
    dry_run = fields.Boolean(
        readonly=True,
        help="A preview: read and decided like a real sync, but wrote no health worker. Its counts say "
        "what a real sync would do now.",
    )
    missing = fields.Integer(
        "Missing from RegNakes",
        readonly=True,
        help="Health workers this complete full sync no longer found in RegNakes (they are kept, marked).",
    )
    unknown_fields = fields.Json(readonly=True)
    unknown_fields_summary = fields.Char(
        "Unknown fields",
        compute="_compute_unknown_fields_summary",
        help="Record fields RegNakes sent that the mapping does not read, with how many records carried "
        "each: RegNakes added or renamed a field.",
    )
    changed_fields = fields.Json(readonly=True)
    changed_fields_summary = fields.Char(
        "Changed fields",
        compute="_compute_changed_fields_summary",
        help="How many of the batch's updates changed each field group.",
    )

    _sql_constraints = [
        ("batch_uid_unique", "unique(batch_uid)", "A batch is mirrored once."),
    ]

    @api.depends("duration_ms")
    def _compute_duration_seconds(self):
        for batch in self:
            batch.duration_seconds = (batch.duration_ms or 0) / 1000.0

    @api.depends("changed_fields")
    def _compute_changed_fields_summary(self):
        labels = dict(CHANGED_FIELD_LABELS)
        for batch in self:
            counts = batch.changed_fields or {}
            parts = [
                f"{labels[key]}: {counts[key]}"
                for key, _label in CHANGED_FIELD_LABELS
                if counts.get(key)
            ]
            batch.changed_fields_summary = " · ".join(parts) or False

    @api.depends("unknown_fields")
    def _compute_unknown_fields_summary(self):
        for batch in self:
            counts = batch.unknown_fields or {}
            parts = [f"{path}: {count}" for path, count in sorted(counts.items())]
            batch.unknown_fields_summary = " · ".join(parts) or False

    # Mirroring

    @api.model
    def _values_from(self, batch):
        values = {
            "batch_uid": batch["id"],
            "trace_id": batch.get("trace_id"),
            "trigger": batch.get("trigger"),
            "mode": batch.get("mode"),
            "status": batch.get("status"),
            "started_at": _timestamp(batch.get("started_at")),
            "finished_at": _timestamp(batch.get("finished_at")),
            "duration_ms": batch.get("duration_ms") or 0,
            "failure_rate": batch.get("failure_rate") or 0.0,
            "error": batch.get("error"),
            "cancel_requested": bool(batch.get("cancel_requested")),
            "window_since": _timestamp(batch.get("since")),
            "window_until": _timestamp(batch.get("until")),
            "changed_fields": batch.get("changed_fields") or False,
            "dry_run": bool(batch.get("dry_run")),
            "unknown_fields": batch.get("unknown_fields") or False,
        }
        values.update({name: batch.get(name) or 0 for name in COUNTERS})
        return values

    @api.model
    def _mirror(self, batches, notify=True):
        """Creates or updates the mirror of the server's batches; returns the records. Idempotent and safe
        to run at the same moment from several places (the server's notifications, the wizard, open
        dashboards): the row is created with ``ON CONFLICT DO NOTHING``, only values that changed are
        written, and a finished batch never goes back to running (notifications may arrive out of
        order). A new failure is announced (once) to the Admin Integrasi users; with ``notify``, open
        dashboards are told (the dashboard's own reads pass ``False``, or each refresh would trigger
        the next)."""
        records = self.browse()
        changed = self.browse()
        for batch in batches:
            values = self._values_from(batch)
            record = self._mirror_row(values["batch_uid"])
            if record.status in FINISHED and values["status"] not in FINISHED:
                records |= record
                continue
            # A failed preview is nobody's to-do: it wrote nothing.
            newly_failed = (
                values["status"] == "failed" and record.status != "failed" and not values["dry_run"]
            )
            diff = {
                name: value
                for name, value in values.items()
                if (record._mirrored_value(name) or False) != (value or False)
            }
            if diff:
                record.write(diff)
                changed |= record
            if newly_failed:
                record._announce_failure()
            records |= record
        if changed and notify:
            self._tell_dashboards(changed)
        return records

    @api.model
    def _mirror_row(self, batch_uid):
        """The mirror row of a batch, created if there is none: by one statement that two transactions
        may run at once (the second waits for the first and finds the row)."""
        self.env.cr.execute(
            """INSERT INTO sdmk_regnakes_batch (batch_uid, create_uid, create_date, write_uid, write_date)
               VALUES (%s, %s, now() at time zone 'UTC', %s, now() at time zone 'UTC')
               ON CONFLICT (batch_uid) DO NOTHING""",
            (batch_uid, self.env.uid, self.env.uid),
        )
        return self.search([("batch_uid", "=", batch_uid)], limit=1)

    def _mirrored_value(self, name):
        """A field's value in the form ``_values_from`` gives it, to compare."""
        value = self[name]
        if isinstance(value, datetime.datetime):
            return fields.Datetime.to_string(value)
        if value is False and name in COUNTERS + ("duration_ms",):
            return 0
        return value

    def _announce_failure(self):
        """A failed batch becomes a to-do for every Admin Integrasi user (use case: batch failed), each
        written in that admin's language."""
        self.ensure_one()
        admins = self.env.ref(GROUP_ADMIN).users.filtered(lambda u: u.active and not u.share)
        for admin in admins:
            summary, note = self.with_context(lang=admin.lang)._failure_texts()
            self.activity_schedule(
                "mail.mail_activity_data_todo", summary=summary, note=note, user_id=admin.id
            )

    def _failure_texts(self):
        """The to-do's summary and note, in the language of this record's context."""
        return _("RegNakes sync failed"), _(
            "Batch %(batch)s failed: %(error)s. Rejected %(rejected)s of %(received)s rows.",
            batch=self.batch_uid,
            error=self.error or _("see the rejected rows"),
            rejected=self.rejected,
            received=self.received,
        )

    def _tell_dashboards(self, records):
        """Pushes the batches to every reader's browser, so open dashboards refresh on their own."""
        readers = self.env.ref(GROUP_VERIFIKATOR).users.filtered("active")
        payload = [record._dashboard_row() for record in records]
        self.env["bus.bus"]._sendmany(
            [(user.partner_id, BUS_TYPE, payload) for user in readers]
        )

    def _dashboard_row(self):
        self.ensure_one()
        row = {
            name: self[name]
            for name in ("id", "batch_uid", "trace_id", "trigger", "mode", "status", "dry_run")
        }
        row.update({name: self[name] for name in COUNTERS})
        row.update(
            started_at=fields.Datetime.to_string(self.started_at) if self.started_at else False,
            duration_seconds=self.duration_seconds,
            # The server sets a batch's rate when it ends; while it runs, the share so far.
            failure_rate=self.failure_rate
            if self.status != "running"
            else (self.rejected / self.received if self.received else 0.0),
            error=self.error or False,
        )
        return row

    # Actions (each reaches the server through sdmk.regnakes.service, which checks the group)

    @api.model
    def action_refresh(self):
        """Mirrors the server's latest batches."""
        service = self.env["sdmk.regnakes.service"]
        result = service._call("batches", limit=100)
        self.sudo()._mirror(result["batches"])
        return {"type": "ir.actions.client", "tag": "soft_reload"}

    def action_refresh_one(self):
        self.ensure_one()
        batch = self.env["sdmk.regnakes.service"]._call("batch", self.batch_uid)
        self.sudo()._mirror([batch])
        return True

    def action_cancel(self):
        self.ensure_one()
        service = self.env["sdmk.regnakes.service"]
        service._check_admin()
        batch = service._call("cancel", self.batch_uid)
        self.sudo()._mirror([batch])
        return True

    def _live_screen(self, tag, name, **params):
        """A screen of this batch's rows read live from the server (never stored in Odoo)."""
        self.ensure_one()
        self.env["sdmk.regnakes.service"]._check_reader()
        return {
            "type": "ir.actions.client",
            "tag": tag,
            "name": name,
            "params": dict(params, batch_uid=self.batch_uid),
        }

    def _open_issues(self, kind):
        name = _("Rejected rows") if kind == "errors" else _("Warnings")
        return self._live_screen("sdmk_regnakes.issues", name, kind=kind)

    def action_retry(self):
        """Opens the retry wizard for this batch's rejected rows (Admin Integrasi)."""
        self.ensure_one()
        self.env["sdmk.regnakes.service"]._check_admin()
        return {
            "type": "ir.actions.act_window",
            "res_model": "sdmk.regnakes.retry.wizard",
            "view_mode": "form",
            "target": "new",
            "context": {"default_batch_id": self.id},
        }

    @api.model
    def _retry(self, batch_uid, reasons=None, str_numbers=None):
        """``batch.retry`` as the current Admin Integrasi; returns the new batch, mirrored."""
        service = self.env["sdmk.regnakes.service"]
        service._check_admin()
        result = service._call(
            "retry", batch_uid, reasons=reasons or None, str_numbers=str_numbers or None
        )
        return self.sudo()._mirror([result["batch"]])

    @api.model
    def retry_rows(self, batch_uid, str_numbers):
        """Retry of the rows picked on the rejected rows screen."""
        batch = self._retry(batch_uid, str_numbers=[n for n in str_numbers if n])
        return self.env["sdmk.regnakes.service"]._notification(
            _("Retry started (batch %s). The dashboard follows its progress.", batch.batch_uid)
        )

    def action_view_errors(self):
        return self._open_issues("errors")

    def action_view_warnings(self):
        return self._open_issues("warnings")

    def action_view_changes(self):
        """What the batch wrote, field by field (its first 1 000 inserts and updates), live."""
        return self._live_screen("sdmk_regnakes.changes", _("Changes"))

    @api.model
    def fetch_changes(self, batch_uid, limit=50, offset=0):
        """One page of a batch's change report, live from the server."""
        service = self.env["sdmk.regnakes.service"]
        return _rpc_safe(service._call("changes", batch_uid, limit=int(limit), offset=int(offset)))

    @api.model
    def fetch_issues(self, batch_uid, kind, limit=50, offset=0):
        """One page of a batch's rejected rows or warnings, live from the server."""
        service = self.env["sdmk.regnakes.service"]
        page = service._call("issues", batch_uid, kind, limit=int(limit), offset=int(offset))
        return _rpc_safe(page)

    # Odoo's scheduler

    @api.model
    def _cron_sync(self):
        """Odoo's scheduled action: an incremental sync with trigger ``cron``, as an Admin Integrasi.

        Runs as the cron's user; the token names that login. Only one scheduler should own a deployment:
        keep this cron inactive when the server's own ``SYNC_SCHEDULE`` is on (see README).
        """
        service = self.env["sdmk.regnakes.service"].sudo()
        url, signing_key = service._settings()
        if not url or not signing_key:
            return False
        client = service._new_client(url, signing_key, ROLE_ADMIN)
        result = service._call("start", mode="incremental", trigger="cron", client=client)
        return self.sudo()._mirror([result["batch"]])
