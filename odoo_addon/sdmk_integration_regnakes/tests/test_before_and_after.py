"""Know before and after (issue 21) in Odoo, against a server and simulator of the test's own: an Admin
Integrasi previews a sync from the Sync now wizard (a dry run, its counts and changes field by field),
then starts it from there; Health workers lists the workers RegNakes no longer has."""

from odoo.tests import HttpCase, tagged

from .common import RegnakesUsersMixin


@tagged("post_install", "-at_install")
class TestBeforeAndAfter(RegnakesUsersMixin, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_regnakes()

    def setUp(self):
        super().setUp()
        self.own, self.client = self._use_own_server(records=300, latency_ms=0, bad_share=0.0)

    def _full_sync(self):
        return self._wait_finished(self.client, self.client.start(mode="full")["batch"]["id"])

    def test_preview_then_start_from_the_wizard(self):
        self._full_sync()
        self.own.advance(changed=4, new_workers=3, stamp_lag_ms=50)
        self.start_tour("/web", "sdmk_regnakes_preview", login="admin_integrasi", timeout=120)
        batches = self.client.batches(limit=10)["batches"]
        preview = next(b for b in batches if b["dry_run"])
        real = next(b for b in batches if not b["dry_run"] and b["started_at"] > preview["started_at"])
        real = self._wait_finished(self.client, real["id"])
        for count in ("received", "inserted", "updated", "unchanged", "rejected"):
            self.assertEqual(preview[count], real[count], (preview, real))
        self.assertEqual((real["inserted"], real["updated"]), (3, 4), real)
        with self._as(self.admin_integrasi) as env:
            mirrored = env["sdmk.regnakes.batch"].search([("batch_uid", "=", preview["id"])])
            self.assertTrue(mirrored.dry_run)
            # A preview is nobody's to-do, and not the dashboard's last sync.
            status = env["sdmk.regnakes.service"].dashboard_data()["status"]
            self.assertFalse(status["last"]["dry_run"], status["last"])

    def test_health_workers_lists_those_not_in_regnakes(self):
        self._full_sync()
        removed = self.own.advance(removed=3, stamp_lag_ms=50)["removed"]
        marking = self._full_sync()
        self.assertEqual(marking["missing"], 3, marking)
        with self._as(self.verifikator) as env:
            service = env["sdmk.regnakes.service"]
            page = service.search_workers("", "", 50, 0, True)
            self.assertEqual(sorted(w["str_number"] for w in page["workers"]), sorted(removed))
            self.assertTrue(all(not w["in_registry"] and w["missing_since"] for w in page["workers"]))
            self.assertEqual(service.dashboard_data()["status"]["missing_workers"], 3)
            self.assertEqual(service.search_workers("", "", 50, 0, False)["total"], 300)
            batch = env["sdmk.regnakes.batch"].sudo()._mirror([marking])
            self.assertEqual(batch.missing, 3)
