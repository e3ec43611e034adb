"""Shared set-up: users of each kind and, when the test script started one, the real RegNakes Sync
server (``REGNAKES_TEST_URL``; its keys: ``REGNAKES_TEST_PRIVATE_KEY_FILE`` (Ed25519, whose public key
the server holds), ``REGNAKES_TEST_SECRET`` (the old HS256 secret, which that server does not accept)
and ``REGNAKES_TEST_NOTIFY_SECRET``; see scripts/odoo-addon-tests.sh)."""

import os
import time
from contextlib import contextmanager

from odoo import SUPERUSER_ID, api
from odoo.tests import new_test_user

from ..models.regnakes_key import NOTIFY_SECRET as NOTIFY_SECRET_KEY
from ..models.regnakes_key import TOKEN_PRIVATE_KEY
from ..regnakes_sync_client import ROLE_ADMIN, RegnakesSyncClient, generate_signing_key
from . import processes

SERVER_URL = os.environ.get("REGNAKES_TEST_URL")
SERVER_SECRET = os.environ.get("REGNAKES_TEST_SECRET")
NOTIFY_SECRET = os.environ.get("REGNAKES_TEST_NOTIFY_SECRET") or "test-notify-secret-test-notify-secret"


def _private_key():
    path = os.environ.get("REGNAKES_TEST_PRIVATE_KEY_FILE")
    if path:
        with open(path, encoding="utf-8") as key_file:
            return key_file.read()
    return generate_signing_key()[0]


PRIVATE_KEY = _private_key()
FINISHED = {"succeeded", "partial", "failed", "cancelled", "skipped"}


class RegnakesUsersMixin:
    @classmethod
    def _setup_regnakes(cls, url=SERVER_URL):
        params = cls.env["ir.config_parameter"].sudo()
        params.set_param("sdmk_integration_regnakes.server_url", url or "http://127.0.0.1:9")
        keys = cls.env["sdmk.regnakes.key"]
        keys._set_key(TOKEN_PRIVATE_KEY, PRIVATE_KEY)
        keys._set_key(NOTIFY_SECRET_KEY, NOTIFY_SECRET)
        cls.signing_key = PRIVATE_KEY
        cls.notify_secret = NOTIFY_SECRET
        cls.admin_integrasi = new_test_user(
            cls.env,
            login="admin_integrasi",
            password="admin_integrasi",
            groups="base.group_user,sdmk_integration_regnakes.group_admin_integrasi",
        )
        cls.verifikator = new_test_user(
            cls.env,
            login="verifikator",
            password="verifikator-password",
            groups="base.group_user,sdmk_integration_regnakes.group_verifikator",
        )
        cls.internal = new_test_user(
            cls.env, login="internal", password="internal-password", groups="base.group_user"
        )
        cls.portal = new_test_user(
            cls.env, login="portal", password="portal-password", groups="base.group_portal"
        )

    def _use_own_server(self, **options):
        """A simulator and server of this test's own (``processes.OwnServer(**options)``), set as Odoo's
        server; returns it and an administrator's client of it. Skips without the binaries."""
        if not processes.available():
            self.skipTest("REGNAKES_TEST_SERVER_BIN is not set: run scripts/odoo-addon-tests.sh")
        own = processes.OwnServer(self.signing_key, self.notify_secret, **options)
        self.addCleanup(own.close, self.env.registry)
        self.env["ir.config_parameter"].sudo().set_param(
            "sdmk_integration_regnakes.server_url", own.url
        )
        # Written to the database now: the browser's requests read it with an environment of their own.
        self.env.flush_all()
        return own, RegnakesSyncClient(own.url, self.signing_key, "odoo-test", [ROLE_ADMIN])

    @contextmanager
    def _as(self, user=None):
        """An environment for ``user`` (the superuser by default) under the lock the server's
        notifications (HTTP requests into this test's transaction) take too. Nothing here may touch the
        test's own cursor first: a request may be using it."""
        with self.env.registry.cursor() as cr:
            yield api.Environment(cr, user.id if user else SUPERUSER_ID, {})

    def _server_admin(self):
        """The real server seen by an administrator script, to check what Odoo users did or did not do."""
        if not SERVER_URL:
            self.skipTest("REGNAKES_TEST_URL is not set: run scripts/odoo-addon-tests.sh")
        return RegnakesSyncClient(SERVER_URL, PRIVATE_KEY, "odoo-test", [ROLE_ADMIN])

    def _wait_finished(self, client, batch_id, seconds=60):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            batch = client.batch(batch_id)
            if batch["status"] in FINISHED:
                return batch
            time.sleep(0.2)
        self.fail(f"batch {batch_id} did not finish within {seconds} s")
