"""17.0.3.0.0: the shared secret moves out of ir.config_parameter (readable by every system
administrator) into the write-only key store."""

from odoo import SUPERUSER_ID, api


def migrate(cr, version):
    env = api.Environment(cr, SUPERUSER_ID, {})
    env["sdmk.regnakes.key"]._move_legacy_secret()
