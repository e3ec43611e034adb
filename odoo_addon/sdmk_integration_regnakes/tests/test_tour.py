from odoo.tests import HttpCase, tagged

from .common import RegnakesUsersMixin


@tagged("post_install", "-at_install")
class TestSyncNowTour(RegnakesUsersMixin, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_regnakes()

    def test_sync_now_from_the_dashboard_until_the_batch_finishes(self):
        self._server_admin()  # skips without a real server
        self.start_tour("/web", "sdmk_regnakes_sync_now", login="admin_integrasi", timeout=120)
        batch = self.env["sdmk.regnakes.batch"].search([("mode", "=", "full")], limit=1)
        self.assertIn(batch.status, ("succeeded", "partial"))
