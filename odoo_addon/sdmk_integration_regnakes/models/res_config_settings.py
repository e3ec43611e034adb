"""Settings → Integrations → RegNakes Sync. Keys are write-only: the screen shows whether each is set
and takes a new value, which goes to ``sdmk.regnakes.key`` and is wiped from the settings record. No
method of this model (``default_get``, ``read``, ``onchange``, ``get_values``, ``export_data``) returns
a key: the fields holding a new value are empty unless the user typed one in this very form."""

from odoo import _, api, fields, models
from odoo.exceptions import AccessError

from ..regnakes_sync_client import generate_signing_key, public_key_of
from .regnakes_key import NOTIFY_SECRET, TOKEN_PRIVATE_KEY, TOKEN_SECRET

NEW_KEY_FIELDS = {
    "regnakes_new_token_secret": TOKEN_SECRET,
    "regnakes_new_notify_secret": NOTIFY_SECRET,
}


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    regnakes_server_url = fields.Char(
        "RegNakes Sync server URL",
        config_parameter="sdmk_integration_regnakes.server_url",
        help="The address Odoo calls, e.g. http://regnakes-sync:8080",
    )
    regnakes_ca_bundle = fields.Char(
        "CA bundle",
        config_parameter="sdmk_integration_regnakes.ca_bundle",
        groups="base.group_system",
        help="For an https:// URL: the file (on the Odoo host) of the CA that issued the server's "
        "certificate. Empty: the system's trusted CAs. odoo.conf: sdmk_regnakes_ca_bundle.",
    )
    regnakes_client_cert_file = fields.Char(
        "Client certificate",
        config_parameter="sdmk_integration_regnakes.client_cert_file",
        groups="base.group_system",
        help="For a server with TLS_CLIENT_CA_FILE: Odoo's certificate file (PEM, on the Odoo host). "
        "odoo.conf: sdmk_regnakes_client_cert_file.",
    )
    regnakes_client_key_file = fields.Char(
        "Client key",
        config_parameter="sdmk_integration_regnakes.client_key_file",
        groups="base.group_system",
        help="The private key file of Odoo's client certificate (PEM, on the Odoo host). "
        "odoo.conf: sdmk_regnakes_client_key_file.",
    )
    regnakes_public_key = fields.Text(
        "Public key for the server",
        compute="_compute_regnakes_keys",
        help="Not a secret: set it as the server's RPC_JWT_PUBLIC_KEY. Odoo keeps the private key.",
    )
    regnakes_token_key_state = fields.Char("Token signing key", compute="_compute_regnakes_keys")
    regnakes_notify_secret_state = fields.Char(
        "Notification secret", compute="_compute_regnakes_keys"
    )
    regnakes_new_token_secret = fields.Char(
        "New shared secret (HS256)",
        groups="base.group_system",
        help="Only for a server still on RPC_JWT_SECRET; prefer the Ed25519 key. Write-only.",
    )
    regnakes_new_notify_secret = fields.Char(
        "New notification secret",
        groups="base.group_system",
        help="The server's ODOO_NOTIFY_SECRET (at least 32 characters). Write-only.",
    )

    @api.depends("regnakes_server_url")
    def _compute_regnakes_keys(self):
        keys = self.env["sdmk.regnakes.key"]
        private = keys._get_key(TOKEN_PRIVATE_KEY)
        if private:
            token_state = _("Ed25519 key set")
        elif keys._is_set(TOKEN_SECRET):
            token_state = _("shared secret set (HS256)")
        else:
            token_state = _("not set")
        for settings in self:
            settings.regnakes_public_key = private and public_key_of(private) or False
            settings.regnakes_token_key_state = token_state
            settings.regnakes_notify_secret_state = (
                _("set") if keys._is_set(NOTIFY_SECRET) else _("not set")
            )

    def set_values(self):
        super().set_values()
        if not self.env.user.has_group("base.group_system"):
            return
        keys = self.env["sdmk.regnakes.key"]
        for field, name in NEW_KEY_FIELDS.items():
            value = (self[field] or "").strip()
            if value:
                keys._set_key(name, value)
        # The new values are stored; the settings record keeps none of them.
        self.write(dict.fromkeys(NEW_KEY_FIELDS, False))

    def action_regnakes_generate_key(self):
        """A new Ed25519 key pair: Odoo keeps the private key, the screen shows the public one."""
        self.ensure_one()
        if not self.env.user.has_group("base.group_system"):
            raise AccessError(_("Only system administrators may change the RegNakes keys."))
        private, _public = generate_signing_key()
        self.env["sdmk.regnakes.key"]._set_key(TOKEN_PRIVATE_KEY, private)
        # The form reads the record again after the button: the key's state and the public key show,
        # and the user's other unsaved settings stay as typed.
        return True

    def action_regnakes_test_connection(self):
        self.ensure_one()
        service = self.env["sdmk.regnakes.service"]
        # The files as typed in this form (saved or not), else odoo.conf's.
        tls = service._tls_files()
        for name in ("ca_bundle", "client_cert_file", "client_key_file"):
            tls[name] = self[f"regnakes_{name}"] or tls[name]
        message = service.test_connection(self.regnakes_server_url, tls=tls)
        return service._notification(message)
