"""The one door from Odoo to the RegNakes Sync server.

Every method that reaches the server checks the calling user's group first, then mints a token for that
user (``sub`` = login) with the role the group gives. The server enforces the role again, so an Odoo user
can do no more than their group allows even by calling these methods directly (``call_kw``, XML-RPC).
Failures become a ``UserError`` in plain words; the server's own message is kept after it.
"""

import logging

from odoo import _, api, models
from odoo.exceptions import AccessError, UserError
from odoo.tools import config

from .regnakes_key import NOTIFY_SECRET, TOKEN_PRIVATE_KEY, TOKEN_SECRET
from ..regnakes_sync_client import (
    ROLE_ADMIN,
    ROLE_VERIFIER,
    ROLE_VIEWER,
    RegnakesSyncClient,
    RegnakesSyncError,
)

PARAM_URL = "sdmk_integration_regnakes.server_url"
# TLS to the server: the CA bundle its certificate chains to, and Odoo's client certificate and key for
# a server that requires one (files on the Odoo host). Settings first, else odoo.conf (``sdmk_regnakes_*``).
TLS_SETTINGS = {
    "ca_bundle": ("sdmk_integration_regnakes.ca_bundle", "sdmk_regnakes_ca_bundle"),
    "client_cert_file": (
        "sdmk_integration_regnakes.client_cert_file",
        "sdmk_regnakes_client_cert_file",
    ),
    "client_key_file": (
        "sdmk_integration_regnakes.client_key_file",
        "sdmk_regnakes_client_key_file",
    ),
}
GROUP_ADMIN = "sdmk_integration_regnakes.group_admin_integrasi"
GROUP_VERIFIKATOR = "sdmk_integration_regnakes.group_verifikator"
DASHBOARD_BATCHES = 15
_logger = logging.getLogger(__name__)


def _rpc_safe(value):
    """``value`` with every ``None`` as ``False``: XML-RPC cannot marshal ``None``, and Odoo's own
    answers use ``False`` for "no value" (the web client reads both alike)."""
    if value is None:
        return False
    if isinstance(value, dict):
        return {key: _rpc_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_rpc_safe(item) for item in value]
    return value


class RegnakesService(models.AbstractModel):
    _name = "sdmk.regnakes.service"
    _description = "RegNakes Sync server access"

    # Groups and roles

    @api.model
    def _is_admin(self):
        return self.env.user.has_group(GROUP_ADMIN)

    @api.model
    def _check_reader(self):
        if not self.env.user.has_group(GROUP_VERIFIKATOR):
            raise AccessError(
                _("Only Verifikator and Admin Integrasi users may read the RegNakes sync.")
            )

    @api.model
    def _check_admin(self):
        if not self._is_admin():
            raise AccessError(
                _("Only Admin Integrasi users may start, cancel or switch the RegNakes sync.")
            )

    # The client

    @api.model
    def _settings(self):
        """Server URL and the key tokens are signed with (the Ed25519 private key, else the HS256 shared
        secret): Settings first, else the Odoo configuration file (``sdmk_regnakes_server_url``, and a
        file per key, see ``sdmk.regnakes.key``). Code only: never returned to a client."""
        params = self.env["ir.config_parameter"].sudo()
        url = params.get_param(PARAM_URL) or config.get("sdmk_regnakes_server_url")
        keys = self.env["sdmk.regnakes.key"]
        keys._move_legacy_secret()
        signing_key = keys._get_key(TOKEN_PRIVATE_KEY) or keys._get_key(TOKEN_SECRET)
        return url, signing_key

    @api.model
    def _tls_files(self):
        """The TLS files as set (Settings, else odoo.conf): ``ca_bundle``, ``client_cert_file``,
        ``client_key_file``; a value not set is ``False``."""
        params = self.env["ir.config_parameter"].sudo()
        return {
            name: params.get_param(param) or config.get(conf_key) or False
            for name, (param, conf_key) in TLS_SETTINGS.items()
        }

    @api.model
    def _new_client(self, url, signing_key, role, timeout=None, tls=None):
        """The one place a client is built: for the current user's login, with the TLS files (as set,
        or ``tls`` as a form holds them before they are saved)."""
        tls = tls if tls is not None else self._tls_files()
        client_cert = None
        if tls.get("client_cert_file") or tls.get("client_key_file"):
            if not (tls.get("client_cert_file") and tls.get("client_key_file")):
                raise UserError(
                    _("Set both the client certificate file and its key file, or neither.")
                )
            client_cert = (tls["client_cert_file"], tls["client_key_file"])
        options = {"ca_bundle": tls.get("ca_bundle") or None, "client_cert": client_cert}
        if timeout:
            options["timeout"] = timeout
        return RegnakesSyncClient(url, signing_key, self.env.user.login, [role], **options)

    @api.model
    def _notify_secret(self):
        """The secret the server's notifications are signed with (its ODOO_NOTIFY_SECRET)."""
        return self.env["sdmk.regnakes.key"]._get_key(NOTIFY_SECRET)

    @api.model
    def _client(self, url=None, secret=None, role=None):
        """A client acting as the current user, with the role their groups give (checked here)."""
        self._check_reader()
        if url is None and secret is None:
            url, secret = self._settings()
        if not url or not secret:
            raise UserError(
                _(
                    "The RegNakes Sync server is not configured: set its URL and signing key in "
                    "Settings → General Settings → Integrations."
                )
            )
        if role is None:
            # Every reader is a Verifikator (group_verifikator): they may decide review cases too.
            role = ROLE_ADMIN if self._is_admin() else ROLE_VERIFIER
        return self._new_client(url, secret, role)

    @api.model
    def _explain(self, error, url=None):
        """A failure in words an administrator can act on, the server's message kept after it."""
        url = url or self._settings()[0]
        messages = {
            "unreachable": _(
                "RegNakes Sync server unreachable at %(url)s: is it running, and is the URL right? (%(detail)s)"
            ),
            "not_a_server": _(
                "%(url)s answers, but it is not a RegNakes Sync server: check the URL. (%(detail)s)"
            ),
            "unauthenticated": _(
                "The RegNakes Sync server refused Odoo's token: the server's RPC_JWT_PUBLIC_KEY is not "
                "the public key shown in Settings (or its RPC_JWT_SECRET not the shared secret). "
                "(%(detail)s)"
            ),
            "forbidden": _("Your role may not do this on the RegNakes Sync server. (%(detail)s)"),
            "disabled": _(
                "The RegNakes integration is disabled: enable it on the dashboard first. (%(detail)s)"
            ),
            "invalid_params": _("The server refused the request: %(detail)s"),
            "busy": _("A sync is running: try again when it has ended. (%(detail)s)"),
            "not_found": _("Not found on the RegNakes Sync server: %(detail)s"),
            "rate_limited": _("The RegNakes Sync server is busy; try again in a moment. (%(detail)s)"),
            "tls_expired": _(
                "The certificate of %(url)s has expired (or is not valid yet): renew it on the "
                "server (TLS_CERT_FILE). (%(detail)s)"
            ),
            "tls_wrong_host": _(
                "The certificate of %(url)s was issued for another host name: use the name on the "
                "certificate in the URL, or issue one for this name. (%(detail)s)"
            ),
            "tls_unknown_ca": _(
                "The certificate of %(url)s was not issued by a CA Odoo trusts: set the CA bundle "
                "that issued it in Settings (or sdmk_regnakes_ca_bundle in odoo.conf). (%(detail)s)"
            ),
            "tls_client_cert_refused": _(
                "The RegNakes Sync server at %(url)s refused Odoo's client certificate: set a "
                "certificate and key issued by the server's TLS_CLIENT_CA_FILE in Settings. "
                "(%(detail)s)"
            ),
            "tls_files": _(
                "Odoo cannot read its TLS files for %(url)s: check the CA bundle and client "
                "certificate paths in Settings. (%(detail)s)"
            ),
            "tls": _("TLS with %(url)s failed: (%(detail)s)"),
        }
        template = messages.get(
            error.kind, _("The RegNakes Sync server failed: %(detail)s (request %(rid)s)")
        )
        return template % {"url": url, "detail": error.message, "rid": error.request_id}

    @api.model
    def _call(self, method, *args, client=None, **kwargs):
        """Calls ``RegnakesSyncClient.<method>`` for the current user; failures become ``UserError``."""
        client = client or self._client()
        try:
            return getattr(client, method)(*args, **kwargs)
        except RegnakesSyncError as error:
            raise UserError(self._explain(error, client.base_url)) from error

    @api.model
    def _notification(self, message, kind="success", close_dialog=False):
        """The client action that shows ``message`` as an Odoo notification (and closes a wizard)."""
        params = {"title": _("RegNakes Sync"), "message": message, "type": kind, "sticky": False}
        if close_dialog:
            params["next"] = {"type": "ir.actions.act_window_close"}
        return {"type": "ir.actions.client", "tag": "display_notification", "params": params}

    # What the screens call (each checks the group through ``_client``)

    @api.model
    def dashboard_data(self):
        """``sync.status`` and the latest batches for the dashboard; a server problem is shown inline."""
        self._check_reader()
        batches = self.env["sdmk.regnakes.batch"]
        data = {"is_admin": self._is_admin(), "status": None, "error": None}
        try:
            status = self._call("status")
            batches.sudo()._mirror(
                [b for b in (status.get("running"), status.get("last")) if b],
                notify=False,
            )
            running = status.get("running")
            if running and running.get("received"):
                # The server sets a batch's rate when it ends; while it runs, the share so far.
                running["failure_rate"] = running.get("rejected", 0) / running["received"]
            data["status"] = status
        except UserError as error:
            data["error"] = str(error)
        if data["status"]:
            try:
                data["open_cases"] = self._call("review_cases", "open", 1, 0)["total"]
            except UserError:
                data["open_cases"] = None
        latest = batches.search([], limit=DASHBOARD_BATCHES)
        data["batches"] = [batch._dashboard_row() for batch in latest]
        return _rpc_safe(data)

    @api.model
    def review_cases(self, status="open", limit=50, offset=0):
        """Review cases (open or resolved), for the Review screen."""
        self._check_reader()
        return _rpc_safe(self._call("review_cases", status, int(limit), int(offset)))

    @api.model
    def review_case(self, case_id):
        self._check_reader()
        return _rpc_safe(self._call("review_case", case_id))

    @api.model
    def decide_case(self, case_id, decision, note=None):
        """A Verifikator's decision on a case; an accepted one is applied at once as a `review` batch."""
        self._check_reader()
        if decision not in ("accept_registry", "keep_sdmk"):
            raise UserError(_("Unknown decision %s.", decision))
        result = self._call("decide", case_id, decision, (note or "").strip() or None)
        if result.get("batch"):
            self.env["sdmk.regnakes.batch"].sudo()._mirror([result["batch"]])
        return _rpc_safe(result)

    @api.model
    def set_enabled(self, enabled, reason=None):
        self._check_admin()
        return self._call("set_enabled", bool(enabled), reason or None)

    @api.model
    def search_workers(self, query=None, profession=None, limit=20, offset=0, missing=False):
        self._check_reader()
        return _rpc_safe(self._call(
            "search_workers",
            query=(query or "").strip() or None,
            profession=profession or None,
            limit=int(limit),
            offset=int(offset),
            missing=bool(missing),
        ))

    @api.model
    def professions(self):
        self._check_reader()
        records = self.env["sdmk.regnakes.profession"].search([], limit=500)
        return [{"code": p.code, "name": p.display_name} for p in records]

    @api.model
    def test_connection(self, url, signing_key=None, tls=None):
        """Checks a URL (and the stored signing key, unless one is given; the TLS files ``tls`` as a
        form holds them, else as set) as a system administrator types it; returns a sentence."""
        if not self.env.user.has_group("base.group_system"):
            raise AccessError(_("Only system administrators may test the RegNakes connection."))
        signing_key = signing_key or self._settings()[1]
        if not url or not signing_key:
            raise UserError(_("Fill in the server URL and set a signing key first."))
        client = self._new_client(url, signing_key, ROLE_VIEWER, timeout=10, tls=tls)
        try:
            status = client.status()
        except RegnakesSyncError as error:
            raise UserError(self._explain(error, url)) from error
        if not status.get("enabled"):
            return _(
                "Connected to %(url)s, but the integration is disabled: no sync will run until an "
                "Admin Integrasi enables it.",
                url=url,
            )
        return _("Connected to %(url)s: the RegNakes integration is enabled.", url=url)
