""""Sync now": a full or incremental sync, optionally for some professions only; or first a
**Preview** (a dry run: what the sync would do now, field by field), then Start from there."""

import time

from markupsafe import Markup, escape

from odoo import _, fields, models

# How long Preview waits for the dry run before showing it as still running (pressing Preview again
# follows the same run: one sync at a time).
PREVIEW_WAIT_SECONDS = 25
# Changes the preview lists (the batch form's Changes screen pages through all of them).
PREVIEW_CHANGES = 50


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
    preview_batch_id = fields.Many2one("sdmk.regnakes.batch", string="Preview", readonly=True)
    preview_html = fields.Html("What the sync would do", readonly=True, sanitize=False)

    def _start(self, dry_run=False):
        service = self.env["sdmk.regnakes.service"]
        service._check_admin()
        result = service._call(
            "start",
            mode=self.mode,
            professions=self.profession_ids.mapped("code"),
            trigger="manual",
            dry_run=dry_run,
        )
        batch = self.env["sdmk.regnakes.batch"].sudo()._mirror([result["batch"]])
        return result, batch

    def action_start(self):
        self.ensure_one()
        result, batch = self._start()
        service = self.env["sdmk.regnakes.service"]
        if result.get("already_running"):
            message = _("A sync is already running (batch %s): no new one was started.", batch.batch_uid)
            kind = "warning"
        else:
            message = _("Sync started (batch %s). The dashboard follows its progress.", batch.batch_uid)
            kind = "success"
        return service._notification(message, kind, close_dialog=True)

    def action_preview(self):
        """Runs a dry run of the chosen sync, waits for it (bounded), and shows what it would do."""
        self.ensure_one()
        result, batch = self._start(dry_run=True)
        service = self.env["sdmk.regnakes.service"]
        if result.get("already_running") and not batch.dry_run:
            return service._notification(
                _("A sync is running (batch %s): preview when it has ended.", batch.batch_uid), "warning"
            )
        finished = self._wait(batch.batch_uid)
        batch = self.env["sdmk.regnakes.batch"].sudo()._mirror([finished])
        self.write({"preview_batch_id": batch.id, "preview_html": self._preview_html(finished)})
        return {
            "type": "ir.actions.act_window",
            "res_model": self._name,
            "res_id": self.id,
            "view_mode": "form",
            "target": "new",
            "name": _("Sync now"),
        }

    def _wait(self, batch_uid):
        service = self.env["sdmk.regnakes.service"]
        deadline = time.monotonic() + PREVIEW_WAIT_SECONDS
        while True:
            batch = service._call("batch", batch_uid)
            if batch.get("status") != "running" or time.monotonic() >= deadline:
                return batch
            time.sleep(0.25)

    def _preview_html(self, batch):
        if batch.get("status") == "running":
            return Markup("<p class='o_regnakes_preview_running'>%s</p>") % _(
                "The preview is still reading RegNakes (%(pages)s pages so far). Press Preview again to "
                "follow it.",
                pages=batch.get("pages") or 0,
            )
        counts = [
            (_("Read"), batch.get("received")),
            (_("Would insert"), batch.get("inserted")),
            (_("Would update"), batch.get("updated")),
            (_("Unchanged"), batch.get("unchanged")),
            (_("Would reject"), batch.get("rejected")),
        ]
        parts = [Markup("<ul class='o_regnakes_preview_counts list-inline'>")]
        for label, value in counts:
            parts.append(
                Markup("<li class='list-inline-item'><b>%s</b> %s</li>") % (value or 0, label)
            )
        parts.append(Markup("</ul>"))
        if batch.get("error"):
            parts.append(Markup("<p class='text-danger'>%s</p>") % batch["error"])
        changes = self.env["sdmk.regnakes.service"]._call(
            "changes", batch["id"], limit=PREVIEW_CHANGES, offset=0
        )
        rows = [
            Markup("<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>")
            % (
                change["str_number"],
                _("insert") if change["outcome"] == "inserted" else _("update"),
                field["field"],
                _shown(field.get("stored")),
                _shown(field.get("incoming")),
            )
            for change in changes.get("changes", [])
            for field in change.get("fields", [])
        ]
        if rows:
            parts.append(
                Markup(
                    "<table class='table table-sm o_regnakes_preview_changes'><thead><tr><th>%s</th>"
                    "<th>%s</th><th>%s</th><th>%s</th><th>%s</th></tr></thead><tbody>"
                )
                % (_("STR number"), _("Change"), _("Field"), _("Stored"), _("Incoming"))
            )
            parts.extend(rows)
            parts.append(Markup("</tbody></table>"))
            if changes.get("total", 0) > PREVIEW_CHANGES:
                parts.append(
                    Markup("<p class='text-muted'>%s</p>")
                    % _(
                        "The first %(shown)s of %(total)s changes; the batch's Changes screen lists them all.",
                        shown=PREVIEW_CHANGES,
                        total=changes["total"],
                    )
                )
        else:
            parts.append(Markup("<p>%s</p>") % _("The sync would change no health worker."))
        return Markup("").join(parts)


def _shown(value):
    return escape("—" if value is None or value is False else str(value))
