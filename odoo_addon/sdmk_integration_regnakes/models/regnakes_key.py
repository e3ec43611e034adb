"""The keys Odoo holds for RegNakes Sync, write-only (CONTRACT §3): the private key its tokens are
signed with (Ed25519; or, for a server not yet moved, the HS256 shared secret) and the secret the
server's notifications are signed with.

They live in a model no user may read, write or search (its only access row grants nothing), never in
``ir.config_parameter``, whose values every system administrator reads in Settings and over RPC. Only
this module's code reads them, as the superuser, to sign or verify. Settings shows whether each is set
and takes a new value; ``odoo.conf`` may name a file for each instead.
"""

import logging

from odoo import api, fields, models
from odoo.tools import config

_logger = logging.getLogger(__name__)

TOKEN_PRIVATE_KEY = "token_private_key"
TOKEN_SECRET = "token_secret"
NOTIFY_SECRET = "notify_secret"
# odoo.conf keys naming a file that holds each key (a container's way).
CONFIG_FILES = {
    TOKEN_PRIVATE_KEY: "sdmk_regnakes_private_key_file",
    TOKEN_SECRET: "sdmk_regnakes_jwt_secret_file",
    NOTIFY_SECRET: "sdmk_regnakes_notify_secret_file",
}
# Where an earlier version kept the shared secret (readable by system administrators): moved here.
LEGACY_PARAM = "sdmk_integration_regnakes.jwt_secret"


def _from_file(path):
    if not path:
        return None
    try:
        with open(path, encoding="utf-8") as key_file:
            return key_file.read().strip() or None
    except OSError:
        _logger.warning("RegNakes key file %s cannot be read", path)
        return None


class RegnakesKey(models.Model):
    _name = "sdmk.regnakes.key"
    _description = "RegNakes Sync key (write-only)"
    _log_access = False

    name = fields.Char(required=True, index=True)
    value = fields.Char(required=True, prefetch=False)

    _sql_constraints = [("name_unique", "unique(name)", "One value per key.")]

    @api.model
    def _get_key(self, name):
        """The key's value: the stored one, else the file ``odoo.conf`` names. Code only, as superuser."""
        record = self.sudo().search([("name", "=", name)], limit=1)
        return record.value or _from_file(config.get(CONFIG_FILES[name]))

    @api.model
    def _set_key(self, name, value):
        """Stores a new value (an empty one removes the key)."""
        records = self.sudo().search([("name", "=", name)])
        if not value:
            records.unlink()
        elif records:
            records.write({"value": value})
        else:
            self.sudo().create({"name": name, "value": value})

    @api.model
    def _is_set(self, name):
        return bool(self._get_key(name))

    @api.model
    def _move_legacy_secret(self):
        """An earlier version's shared secret, kept where administrators could read it, moves here."""
        params = self.env["ir.config_parameter"].sudo()
        legacy = params.get_param(LEGACY_PARAM)
        if legacy:
            if not self.sudo().search([("name", "=", TOKEN_SECRET)]):
                self._set_key(TOKEN_SECRET, legacy)
            params.search([("key", "=", LEGACY_PARAM)]).unlink()
