"""Who may do what, called as an attacker would: straight at the model methods (call_kw, XML-RPC), with
the real server behind them, which must see nothing from a refused user."""

import xmlrpc.client
from unittest.mock import patch

from odoo.exceptions import AccessError, UserError
from odoo.tests import HttpCase, tagged
from odoo.tools import config

from ..regnakes_sync_client import (
    ROLE_ADMIN,
    ROLE_VERIFIER,
    RegnakesSyncClient,
    generate_signing_key,
)
from .common import SERVER_URL, RegnakesUsersMixin


@tagged("post_install", "-at_install")
class TestRoles(RegnakesUsersMixin, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_regnakes()

    def acting_calls(self, env):
        """Every way into the server that changes something, as that user would call it."""
        return {
            "sync wizard": lambda: env["sdmk.regnakes.sync.wizard"]
            .create({"mode": "full"})
            .action_start(),
            "disable": lambda: env["sdmk.regnakes.service"].set_enabled(False, "x"),
            "disable wizard": lambda: env["sdmk.regnakes.enable.wizard"]
            .create({"enabled": False, "reason": "x"})
            .action_apply(),
            "cancel": lambda: env["sdmk.regnakes.batch"]
            .sudo()
            ._mirror([{"id": "00000000-0000-0000-0000-000000000000", "status": "running"}])
            .with_env(env)
            .action_cancel(),
        }

    def reading_calls(self, env):
        return {
            "dashboard": lambda: env["sdmk.regnakes.service"].dashboard_data(),
            "refresh": lambda: env["sdmk.regnakes.batch"].action_refresh(),
            "workers": lambda: env["sdmk.regnakes.service"].search_workers("a"),
            "issues": lambda: env["sdmk.regnakes.batch"].fetch_issues(
                "00000000-0000-0000-0000-000000000000", "errors"
            ),
        }

    def test_users_without_a_group_reach_nothing(self):
        server = self._server_admin()
        before = server.batches()["total"]
        for user in (self.portal, self.internal):
            env = self.env(user=user)
            calls = {**self.acting_calls(env), **self.reading_calls(env)}
            for name, call in calls.items():
                with self.subTest(user=user.login, call=name):
                    with self.assertRaises(AccessError):
                        call()
        self.assertEqual(server.batches()["total"], before)
        self.assertTrue(server.status()["enabled"])

    def test_a_verifikator_reads_everything_and_changes_nothing(self):
        server = self._server_admin()
        before = server.batches()["total"]
        env = self.env(user=self.verifikator)
        for name, call in self.acting_calls(env).items():
            with self.subTest(call=name):
                with self.assertRaises(AccessError):
                    call()
        data = env["sdmk.regnakes.service"].dashboard_data()
        self.assertFalse(data["error"], data)
        self.assertFalse(data["is_admin"])
        self.assertIn("enabled", data["status"])
        env["sdmk.regnakes.service"].search_workers("a")
        self.assertEqual(server.batches()["total"], before)

    def test_tokens_carry_the_role_of_the_users_group(self):
        service = self.env["sdmk.regnakes.service"]
        admin_client = service.with_user(self.admin_integrasi)._client()
        verifier_client = service.with_user(self.verifikator)._client()
        self.assertEqual(
            (admin_client.login, admin_client.roles), ("admin_integrasi", (ROLE_ADMIN,))
        )
        self.assertEqual(
            (verifier_client.login, verifier_client.roles), ("verifikator", (ROLE_VERIFIER,))
        )

    def test_xmlrpc_callers_without_a_group_are_refused(self):
        """The same as above through Odoo's external API, as a script would try it."""
        server = self._server_admin()
        before = server.batches()["total"]
        for login in ("portal", "internal"):
            password = f"{login}-password"
            uid = self.xmlrpc_common.authenticate(self.env.cr.dbname, login, password, {})
            self.assertTrue(uid, f"{login} logs in over XML-RPC")
            for model, method, args in (
                ("sdmk.regnakes.service", "set_enabled", [False]),
                ("sdmk.regnakes.service", "dashboard_data", []),
                ("sdmk.regnakes.batch", "action_refresh", []),
                ("sdmk.regnakes.service", "review_cases", ["open"]),
                ("sdmk.regnakes.service", "decide_case", ["x", "keep_sdmk"]),
                ("sdmk.regnakes.retry.wizard", "create", [{}]),
            ):
                with self.subTest(login=login, method=method):
                    with self.assertRaises(Exception) as refused:
                        self.xmlrpc_object.execute(
                            self.env.cr.dbname, uid, password, model, method, *args
                        )
                    # Odoo's XML-RPC answers an AccessError as fault 4.
                    self.assertEqual(refused.exception.faultCode, 4, str(refused.exception))
        self.assertEqual(server.batches()["total"], before)

    def test_an_admin_runs_a_sync_reads_its_rejected_rows_and_disables(self):
        server = self._server_admin()
        env = self.env(user=self.admin_integrasi)
        wizard = env["sdmk.regnakes.sync.wizard"].create({"mode": "incremental"})
        wizard.action_start()
        mirrored = env["sdmk.regnakes.batch"].search([], limit=1)
        batch = self._wait_finished(server, mirrored.batch_uid)
        mirrored.action_refresh_one()
        self.assertEqual(mirrored.status, batch["status"])
        if batch["rejected"]:
            page = mirrored.fetch_issues(mirrored.batch_uid, "errors", 5, 0)
            self.assertEqual(page["total"], batch["rejected"])
            self.assertTrue(page["errors"][0]["reason"])
        env["sdmk.regnakes.enable.wizard"].create(
            {"enabled": False, "reason": "maintenance"}
        ).action_apply()
        try:
            self.assertFalse(server.status()["enabled"])
            with self.assertRaises(UserError) as refused:
                env["sdmk.regnakes.sync.wizard"].create({}).action_start()
            self.assertIn("disabled", str(refused.exception))
        finally:
            env["sdmk.regnakes.service"].set_enabled(True)

    def test_test_connection_names_what_is_wrong(self):
        if not SERVER_URL:
            self.skipTest("REGNAKES_TEST_URL is not set")
        service = self.env["sdmk.regnakes.service"]
        self.assertIn("enabled", service.test_connection(SERVER_URL))
        cases = {
            "unreachable": ("http://127.0.0.1:9", self.signing_key),
            "RPC_JWT_PUBLIC_KEY": (SERVER_URL, generate_signing_key()[0]),
            "not a RegNakes Sync server": (f"{SERVER_URL}/nowhere", self.signing_key),
        }
        for words, (url, secret) in cases.items():
            with self.subTest(words):
                with self.assertRaises(UserError) as failed:
                    service.test_connection(url, secret)
                self.assertIn(words, str(failed.exception))
        with self.assertRaises(AccessError):
            service.with_user(self.admin_integrasi).test_connection(SERVER_URL)
        # The client's own check of what it was given.
        self.assertIsInstance(
            RegnakesSyncClient(SERVER_URL, self.signing_key, "x").status(), dict
        )

    def test_the_tls_files_reach_the_client_from_settings_or_odoo_conf(self):
        service = self.env["sdmk.regnakes.service"]
        params = self.env["ir.config_parameter"].sudo()
        client = service._new_client("https://sync.internal", self.signing_key, ROLE_ADMIN)
        self.assertIs(client.verify, True, "no bundle set: the system's CAs")
        self.assertIsNone(client.client_cert)
        with patch.dict(config.options, {"sdmk_regnakes_ca_bundle": "/etc/odoo/conf-ca.pem"}):
            client = service._new_client("https://sync.internal", self.signing_key, ROLE_ADMIN)
            self.assertEqual(client.verify, "/etc/odoo/conf-ca.pem")
            params.set_param("sdmk_integration_regnakes.ca_bundle", "/etc/odoo/settings-ca.pem")
            client = service._new_client("https://sync.internal", self.signing_key, ROLE_ADMIN)
            self.assertEqual(client.verify, "/etc/odoo/settings-ca.pem", "Settings win")
        params.set_param("sdmk_integration_regnakes.client_cert_file", "/etc/odoo/odoo.crt")
        with self.assertRaises(UserError) as half:
            service._new_client("https://sync.internal", self.signing_key, ROLE_ADMIN)
        self.assertIn("key file", str(half.exception))
        params.set_param("sdmk_integration_regnakes.client_key_file", "/etc/odoo/odoo.key")
        client = service._new_client("https://sync.internal", self.signing_key, ROLE_ADMIN)
        self.assertEqual(client.client_cert, ("/etc/odoo/odoo.crt", "/etc/odoo/odoo.key"))
        if SERVER_URL:
            # Test connection names a TLS problem: https:// to a server that speaks plain HTTP, and a
            # client certificate file that is not there.
            https_url = SERVER_URL.replace("http://", "https://")
            with self.assertRaises(UserError) as failed:
                service.test_connection(https_url, tls={})
            self.assertIn("does not speak HTTPS", str(failed.exception))
            with self.assertRaises(UserError) as failed:
                service.test_connection(https_url)
            self.assertIn("TLS files", str(failed.exception))

    def test_the_reading_methods_answer_over_xmlrpc(self):
        """XML-RPC cannot marshal ``None``: the dashboard, the worker search and a batch's rows answer."""
        server = self._server_admin()
        batch = self._wait_finished(server, server.start(mode="full")["batch"]["id"])
        common = xmlrpc.client.ServerProxy(f"{self.xmlrpc_url}common")
        uid = common.login(self.env.cr.dbname, "verifikator", "verifikator-password")
        calls = [
            ("sdmk.regnakes.service", "dashboard_data", []),
            ("sdmk.regnakes.service", "search_workers", ["a"]),
            ("sdmk.regnakes.batch", "fetch_issues", [batch["id"], "errors"]),
            ("sdmk.regnakes.service", "review_cases", ["open"]),
            ("sdmk.regnakes.batch", "fetch_changes", [batch["id"]]),
        ]
        for model, method, args in calls:
            with self.subTest(method=method):
                answer = self.xmlrpc_object.execute_kw(
                    self.env.cr.dbname, uid, "verifikator-password", model, method, args
                )
                self.assertIsInstance(answer, dict)

    def test_odoos_cron_while_disabled_records_a_skipped_batch(self):
        server = self._server_admin()
        server.set_enabled(False, "maintenance")
        try:
            record = self.env["sdmk.regnakes.batch"]._cron_sync()
            self.assertEqual((record.status, record.trigger), ("skipped", "cron"))
        finally:
            server.set_enabled(True)
