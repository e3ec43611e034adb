from odoo.exceptions import AccessError
from odoo.tests.common import TransactionCase

from .common import RegnakesUsersMixin


def server_batch(**overrides):
    batch = {
        "id": "0190d6e4-0000-7000-8000-000000000001",
        "trace_id": "odoo-trace-1",
        "trigger": "manual",
        "mode": "full",
        "status": "running",
        "started_at": "2026-11-29T02:00:00Z",
        "finished_at": None,
        "duration_ms": None,
        "pages": 1,
        "received": 100,
        "inserted": 90,
        "updated": 0,
        "unchanged": 0,
        "rejected": 10,
        "failure_rate": 0.1,
        "error": None,
    }
    batch.update(overrides)
    return batch


class TestMirror(RegnakesUsersMixin, TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_regnakes()
        cls.Batch = cls.env["sdmk.regnakes.batch"].sudo()

    def test_a_batch_is_mirrored_once_and_kept_in_step(self):
        first = self.Batch._mirror([server_batch()])
        finished = server_batch(
            status="partial",
            finished_at="2026-11-29T02:00:42Z",
            duration_ms=42_500,
            pages=3,
            received=300,
            inserted=270,
            rejected=30,
            since="2026-11-28T18:50:00.000Z",
            until="2026-11-29T02:00:00.000Z",
            changed_fields={"name": 2, "str_number": 0, "str_status": 5, "unknown": 0},
        )
        second = self.Batch._mirror([finished])
        self.assertEqual(first, second)
        self.assertEqual(self.Batch.search_count([("batch_uid", "=", finished["id"])]), 1)
        self.assertEqual(second.status, "partial")
        self.assertEqual((second.received, second.rejected, second.pages), (300, 30, 3))
        self.assertAlmostEqual(second.duration_seconds, 42.5)
        self.assertEqual(str(second.finished_at), "2026-11-29 02:00:42")
        # The window the run read and what its updates changed, as an operator reads them.
        self.assertEqual(str(second.window_since), "2026-11-28 18:50:00")
        self.assertEqual(str(second.window_until), "2026-11-29 02:00:00")
        self.assertEqual(second.changed_fields_summary, "Name: 2 · STR status: 5")

    def test_a_failed_batch_gives_each_admin_one_todo(self):
        failed = server_batch(status="failed", error="RegNakes unreachable after 3 retries")
        record = self.Batch._mirror([failed])
        # The server retries its notification: a second delivery must not add more to-dos.
        self.Batch._mirror([failed])
        todo_users = record.activity_ids.mapped("user_id")
        self.assertIn(self.admin_integrasi, todo_users)
        self.assertNotIn(self.verifikator, todo_users)
        self.assertEqual(len(record.activity_ids.filtered(lambda a: a.user_id == self.admin_integrasi)), 1)
        self.assertIn("unreachable", record.activity_ids[0].note)

    def test_the_live_screens_name_their_batch_and_only_readers_open_them(self):
        record = self.Batch._mirror([server_batch(status="partial")]).with_user(self.verifikator)
        changes = record.action_view_changes()
        self.assertEqual(
            (changes["tag"], changes["params"]),
            ("sdmk_regnakes.changes", {"batch_uid": record.batch_uid}),
        )
        errors = record.action_view_errors()
        self.assertEqual(errors["params"], {"batch_uid": record.batch_uid, "kind": "errors"})
        with self.assertRaises(AccessError):
            record.with_user(self.internal).action_view_changes()

    def test_a_successful_batch_gives_no_todo(self):
        record = self.Batch._mirror([server_batch(status="succeeded", rejected=0)])
        self.assertFalse(record.activity_ids)


class TestMirrorInAnyOrder(RegnakesUsersMixin, TransactionCase):
    """Starting, notifying and refreshing in any order never raises (issue 19)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_regnakes()
        cls.Batch = cls.env["sdmk.regnakes.batch"].sudo()

    def mirrored(self):
        return self.Batch.search([("batch_uid", "=", server_batch()["id"])])

    def test_events_in_any_order_leave_one_row_in_its_last_state(self):
        finished = server_batch(status="partial", finished_at="2026-11-29T02:00:42Z")
        orders = [
            [server_batch(), finished],
            [finished, server_batch()],
            [server_batch(), server_batch(), finished, finished],
        ]
        for events in orders:
            with self.subTest(events=[e["status"] for e in events]):
                self.mirrored().unlink()
                for event in events:
                    self.Batch._mirror([event])
                self.assertEqual(len(self.mirrored()), 1)
                self.assertEqual(self.mirrored().status, "partial")

    def test_a_refresh_that_changes_nothing_writes_nothing(self):
        record = self.Batch._mirror([server_batch(status="partial")])
        written = record.write_date
        self.env.flush_all()
        self.env.cr.execute(
            "UPDATE sdmk_regnakes_batch SET write_date = '2000-01-01' WHERE id = %s", (record.id,)
        )
        record.invalidate_recordset()
        self.Batch._mirror([server_batch(status="partial")])
        self.env.flush_all()
        record.invalidate_recordset()
        self.assertEqual(str(record.write_date), "2000-01-01 00:00:00", written)

    def test_the_failure_todo_is_in_each_admins_language(self):
        self.env["res.lang"]._activate_lang("id_ID")
        self.admin_integrasi.lang = "id_ID"
        record = self.Batch._mirror([server_batch(status="failed", error="x")])
        todo = record.activity_ids.filtered(lambda a: a.user_id == self.admin_integrasi)
        self.assertEqual(todo.summary, "Sinkronisasi RegNakes gagal")
