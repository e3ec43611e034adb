"""Signatures of the server's notifications already accepted, shared by every Odoo worker through the
database, so a replayed notification is refused (CONTRACT §3). A signature older than the receiver's
window is refused for its age anyway: those rows are vacuumed."""

from odoo import api, fields, models

# Twice the five minutes a signature is valid either way.
KEEP_SECONDS = 600


class RegnakesNotificationSeen(models.Model):
    _name = "sdmk.regnakes.notification.seen"
    _description = "RegNakes notification signature already accepted"
    _log_access = False

    signature = fields.Char(required=True, index=True)
    received_at = fields.Datetime(required=True, index=True)

    _sql_constraints = [
        ("signature_unique", "unique(signature)", "A notification is accepted once.")
    ]

    @api.model
    def _accept_once(self, signature):
        """True the first time ``signature`` is seen, in this transaction; False for a replay. Two workers
        receiving the same one at once: the second waits for the first's commit, then finds it."""
        self.env.cr.execute(
            """INSERT INTO sdmk_regnakes_notification_seen (signature, received_at)
               VALUES (%s, now() at time zone 'UTC')
               ON CONFLICT (signature) DO NOTHING RETURNING id""",
            (signature,),
        )
        return bool(self.env.cr.fetchone())

    @api.autovacuum
    def _gc_old_signatures(self):
        self.env.cr.execute(
            """DELETE FROM sdmk_regnakes_notification_seen
               WHERE received_at < (now() at time zone 'UTC') - interval '%s seconds'""",
            (KEEP_SECONDS,),
        )
