import json
import time

from odoo.tests import HttpCase, tagged

from ..regnakes_sync_client import sign_notification
from .common import RegnakesUsersMixin
from .test_mirror import server_batch

URL = "/sdmk_regnakes/notify"


@tagged("post_install", "-at_install")
class TestNotificationReceiver(RegnakesUsersMixin, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_regnakes()

    def post(self, body, signature=None):
        headers = {"Content-Type": "application/json", "X-Request-ID": "trace-9"}
        if signature is not None:
            headers["X-RegNakes-Signature"] = signature
        return self.url_open(URL, data=body, headers=headers)

    def event(self, **batch):
        return json.dumps(
            {"event": "regnakes.batch_finished", "batch": server_batch(**batch)}
        ).encode()

    def mirrored(self):
        return self.env["sdmk.regnakes.batch"].search(
            [("batch_uid", "=", server_batch()["id"])]
        )

    def test_a_signed_notification_updates_the_mirror(self):
        body = self.event(status="partial", finished_at="2026-11-29T02:01:00Z")
        response = self.post(body, sign_notification(self.notify_secret, body))
        self.assertEqual(response.status_code, 200, response.text)
        self.assertEqual(self.mirrored().status, "partial")

    def test_a_failed_batch_notification_gives_admins_a_todo(self):
        body = self.event(status="failed", error="token renewal failed")
        response = self.post(body, sign_notification(self.notify_secret, body))
        self.assertEqual(response.status_code, 200, response.text)
        activities = self.mirrored().activity_ids
        self.assertIn(self.admin_integrasi, activities.mapped("user_id"))

    def test_anything_not_signed_right_is_refused_and_changes_nothing(self):
        body = self.event(status="failed")
        stale = int(time.time()) - 330
        cases = {
            "no signature": None,
            "empty": "",
            "wrong secret": sign_notification("another secret", body),
            "the token key": sign_notification(self.signing_key, body),
            "other body": sign_notification(self.notify_secret, body + b" "),
            "stale": sign_notification(self.notify_secret, body, now=stale),
            "future": sign_notification(self.notify_secret, body, now=int(time.time()) + 330),
            "garbage": "t=x,v1=y",
        }
        for name, signature in cases.items():
            with self.subTest(name):
                response = self.post(body, signature)
                self.assertEqual(response.status_code, 401, name)
        self.assertFalse(self.mirrored())

    def test_a_signed_body_that_is_not_an_event_is_a_bad_request(self):
        body = b'{"event": "something.else"}'
        response = self.post(body, sign_notification(self.notify_secret, body))
        self.assertEqual(response.status_code, 400)

    def test_a_replayed_notification_is_refused(self):
        body = self.event(status="partial", finished_at="2026-11-29T02:01:00Z")
        signature = sign_notification(self.notify_secret, body)
        self.assertEqual(self.post(body, signature).status_code, 200)
        replay = self.post(body, signature)
        self.assertEqual(replay.status_code, 401, replay.text)
        self.assertIn("replayed", replay.text)
        # The server's retry of the same event is signed afresh, and changes nothing.
        again = self.post(body, sign_notification(self.notify_secret, body, now=int(time.time()) + 1))
        self.assertEqual(again.status_code, 200, again.text)
        self.assertEqual(len(self.mirrored()), 1)
