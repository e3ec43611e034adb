"""The Verifikator's desk in Odoo (issue 20), against a server and simulator of the test's own: a
Verifikator lists the open cases, compares one, accepts one and keeps another; an Admin Integrasi
retries rejected rows; other users reach none of it."""

from odoo.exceptions import AccessError
from odoo.tests import HttpCase, tagged

from .common import RegnakesUsersMixin


@tagged("post_install", "-at_install")
class TestReviewDesk(RegnakesUsersMixin, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_regnakes()

    def setUp(self):
        super().setUp()
        # No bad records but those a test makes: every case is one it knows.
        bad_share = 0.05 if "retries" in self._testMethodName else 0.0
        self.own, self.client = self._use_own_server(records=300, latency_ms=0, bad_share=bad_share)

    def _full_sync(self):
        return self._wait_finished(self.client, self.client.start(mode="full")["batch"]["id"])

    def test_a_verifikator_accepts_one_case_and_keeps_another(self):
        # The tour logs in with the login as password.
        self.verifikator.sudo().password = "verifikator"
        self.env.flush_all()
        self._full_sync()
        self.own.advance(nik_conflicts=2, stamp_lag_ms=50)
        self._full_sync()
        with self._as(self.verifikator) as env:
            case = env["sdmk.regnakes.service"].review_cases("open")["cases"][0]
            fields = [d["field"] for d in env["sdmk.regnakes.service"].review_case(case["id"])["differences"]]
            self.assertIn("nik_masked", fields)
        self.start_tour("/web", "sdmk_regnakes_review_desk", login="verifikator", timeout=120)
        resolved = self.client.review_cases("resolved")["cases"]
        decisions = sorted((c["decision"]["decision"], c["decision"]["by"]) for c in resolved)
        self.assertEqual(
            decisions, [("accept_registry", "verifikator"), ("keep_sdmk", "verifikator")]
        )
        self.assertFalse(self.client.review_cases("open")["cases"])
        with self._as(self.verifikator) as env:
            review_batches = env["sdmk.regnakes.batch"].search([("trigger", "=", "review")])
            self.assertEqual(review_batches.mapped("updated"), [1])

    def test_an_admin_retries_rejected_rows_and_sees_the_new_batch(self):
        first = self._full_sync()
        errors = self.client.issues(first["id"])["errors"]
        numbers = [e["str_number"] for e in errors if e.get("str_number")][:2]
        self.assertEqual(len(numbers), 2, errors)
        with self._as(self.admin_integrasi) as env:
            batch = env["sdmk.regnakes.batch"].sudo()._mirror([first])
            wizard = env["sdmk.regnakes.retry.wizard"].create(
                {"batch_id": batch.id, "str_numbers": "\n".join(numbers)}
            )
            wizard.action_retry()
            retried = env["sdmk.regnakes.batch"].search([("trigger", "=", "retry")])
            self.assertEqual(len(retried), 1)
            retried_uid = retried.batch_uid
        finished = self._wait_finished(self.client, retried_uid)
        self.assertEqual(finished["received"], 2, finished)

    def test_other_users_reach_none_of_it(self):
        for user in (self.internal, self.portal):
            with self.subTest(user=user.login), self._as(user) as env:
                service = env["sdmk.regnakes.service"]
                with self.assertRaises(AccessError):
                    service.review_cases("open")
                with self.assertRaises(AccessError):
                    service.decide_case("0190d6e4-0000-7000-8000-000000000001", "keep_sdmk")
        with self._as(self.verifikator) as env, self.assertRaises(AccessError):
            env["sdmk.regnakes.retry.wizard"].create({})
