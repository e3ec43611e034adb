"""No Odoo user, whatever their groups, reads a RegNakes key: every way an attacker tried (the model API,
XML-RPC, ``/web/dataset/call_kw``) as a portal user, an internal user, a Verifikator, an Admin
Integrasi and a system administrator answers no key. A token signed with the old shared secret is
refused by a server that holds Odoo's public key."""

import xmlrpc.client

from odoo.exceptions import AccessError, UserError
from odoo.tests import HttpCase, tagged

from ..models.regnakes_key import TOKEN_SECRET
from ..regnakes_sync_client import ROLE_ADMIN, RegnakesSyncClient, RegnakesSyncError
from .common import NOTIFY_SECRET, PRIVATE_KEY, SERVER_SECRET, SERVER_URL, RegnakesUsersMixin

LEGACY_SECRET = "legacy-shared-secret-legacy-shared-secret"
SETTINGS = "res.config.settings"
KEYS = "sdmk.regnakes.key"


@tagged("post_install", "-at_install")
class TestKeysAreWriteOnly(RegnakesUsersMixin, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_regnakes()
        cls.env[KEYS]._set_key(TOKEN_SECRET, LEGACY_SECRET)
        cls.system = cls.env.ref("base.user_admin")
        cls.passwords = {
            "portal": "portal-password",
            "internal": "internal-password",
            "verifikator": "verifikator-password",
            "admin_integrasi": "admin_integrasi",
        }

    def secrets(self):
        # The private key's body (its PEM lines), the shared and the notification secrets.
        body = "".join(line for line in PRIVATE_KEY.splitlines() if not line.startswith("-----"))
        return [body[:40], LEGACY_SECRET, NOTIFY_SECRET]

    def assert_no_secret(self, what, answer):
        text = repr(answer)
        for secret in self.secrets():
            self.assertNotIn(secret, text, f"{what} answered a key")

    def users(self):
        return [self.portal, self.internal, self.verifikator, self.admin_integrasi, self.system]

    def attempts(self, env):
        settings = env[SETTINGS]
        fields = list(settings.fields_get())
        regnakes = [f for f in fields if f.startswith("regnakes_")]
        return {
            "settings default_get": lambda: settings.default_get(fields),
            "settings default_get (ours)": lambda: settings.default_get(regnakes),
            "settings get_values": lambda: settings.get_values(),
            "settings onchange": lambda: settings.onchange({}, [], {f: {} for f in regnakes}),
            "settings create+read": lambda: settings.create({}).read(regnakes),
            "keys search_read": lambda: env[KEYS].search_read([], ["name", "value"]),
            "keys read": lambda: env[KEYS].browse(env[KEYS].sudo().search([]).ids).read(["value"]),
            "keys export_data": lambda: env[KEYS]
            .browse(env[KEYS].sudo().search([]).ids)
            .export_data(["name", "value"]),
            "parameters": lambda: env["ir.config_parameter"].search_read([], ["key", "value"]),
        }

    def test_no_model_method_answers_a_key(self):
        for user in self.users():
            env = self.env(user=user)
            for what, attempt in self.attempts(env).items():
                with self.subTest(user=user.login, attempt=what):
                    try:
                        answer = attempt()
                    except (AccessError, UserError):
                        # Refused (export: "You don't have the rights to export data").
                        continue
                    self.assert_no_secret(f"{user.login}: {what}", answer)

    def test_no_rpc_answers_a_key(self):
        common = xmlrpc.client.ServerProxy(f"{self.xmlrpc_url}common")
        for login, password in self.passwords.items():
            uid = common.login(self.env.cr.dbname, login, password)
            self.assertTrue(uid, login)
            calls = [
                (SETTINGS, "default_get", [["regnakes_new_token_secret", "regnakes_new_notify_secret"]]),
                (SETTINGS, "get_values", [[]]),
                (KEYS, "search_read", [[], ["value"]]),
            ]
            for model, method, args in calls:
                with self.subTest(login=login, model=model, method=method):
                    try:
                        answer = self.xmlrpc_object.execute_kw(
                            self.env.cr.dbname, uid, password, model, method, args
                        )
                    except xmlrpc.client.Fault:
                        continue
                    self.assert_no_secret(f"{login}: XML-RPC {model}.{method}", answer)
            self.authenticate(login, password)
            for model, method, args in calls:
                with self.subTest(login=login, call_kw=f"{model}.{method}"):
                    try:
                        answer = self.make_jsonrpc_request(
                            "/web/dataset/call_kw",
                            {"model": model, "method": method, "args": args, "kwargs": {}},
                        )
                    except Exception:  # pylint: disable=broad-except
                        # Odoo answers a refusal as a JSON-RPC error, which the helper raises.
                        continue
                    self.assert_no_secret(f"{login}: call_kw {model}.{method}", answer)

    def test_a_new_key_is_stored_and_wiped_from_the_settings_record(self):
        settings = self.env[SETTINGS].create(
            {"regnakes_new_notify_secret": "fresh-notify-secret-fresh-notify-secret"}
        )
        settings.execute()
        self.assertFalse(settings.regnakes_new_notify_secret)
        self.assertEqual(
            self.env[KEYS]._get_key("notify_secret"), "fresh-notify-secret-fresh-notify-secret"
        )
        self.assertEqual(settings.regnakes_notify_secret_state, "set")
        self.env[KEYS]._set_key("notify_secret", NOTIFY_SECRET)

    def test_a_token_signed_with_the_old_secret_is_refused_once_eddsa_is_configured(self):
        if not SERVER_URL or not SERVER_SECRET:
            self.skipTest("REGNAKES_TEST_URL is not set: run scripts/odoo-addon-tests.sh")
        with self.assertRaises(RegnakesSyncError) as refused:
            RegnakesSyncClient(SERVER_URL, SERVER_SECRET, "odoo-test", [ROLE_ADMIN]).status()
        self.assertEqual(refused.exception.kind, "unauthenticated")
        self.assertIn("HS256", refused.exception.message)
        status = RegnakesSyncClient(SERVER_URL, PRIVATE_KEY, "odoo-test", [ROLE_ADMIN]).status()
        self.assertIn("enabled", status)
