"""JSON-RPC client of the RegNakes Sync server (CONTRACT §3).

Tokens are HS256 JWTs signed with the shared secret, ``aud`` = ``sdmk-regnakes``, ``sub`` = the Odoo
user's login, a short ``exp``. Built with the standard library so the addon needs no extra package.
"""

import base64
import hashlib
import hmac
import json
import time
import uuid

import requests

from odoo import _, api, models
from odoo.exceptions import UserError

AUDIENCE = "sdmk-regnakes"
TOKEN_LIFETIME = 300
TIMEOUT = 30


def _b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_token(secret, login, now=None):
    """An HS256 JWT for the sync server."""
    now = int(now if now is not None else time.time())
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    claims = {"aud": AUDIENCE, "exp": now + TOKEN_LIFETIME, "iat": now, "sub": login}
    payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
    signing_input = f"{header}.{payload}".encode()
    signature = hmac.new(secret.encode(), signing_input, hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64(signature)}"


class RegnakesClient(models.AbstractModel):
    _name = "sdmk.regnakes.client"
    _description = "RegNakes Sync server client"

    @api.model
    def _settings(self):
        params = self.env["ir.config_parameter"].sudo()
        url = params.get_param("sdmk_integration_regnakes.server_url")
        secret = params.get_param("sdmk_integration_regnakes.jwt_secret")
        if not url or not secret:
            raise UserError(
                _("Configure the RegNakes Sync server URL and secret in Settings first.")
            )
        return url.rstrip("/"), secret

    @api.model
    def call(self, method, params=None):
        """Calls one method; returns its result or raises UserError with the server's message."""
        url, secret = self._settings()
        request_id = f"odoo-{uuid.uuid4()}"
        body = {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params or {}}
        headers = {
            "Authorization": f"Bearer {make_token(secret, self.env.user.login)}",
            "X-Request-ID": request_id,
        }
        try:
            response = requests.post(
                f"{url}/jsonrpc", json=body, headers=headers, timeout=TIMEOUT
            )
        except requests.RequestException as exc:
            raise UserError(
                _("RegNakes Sync server unreachable: %s", exc.__class__.__name__)
            ) from exc
        try:
            answer = response.json()
        except ValueError as exc:
            raise UserError(
                _("RegNakes Sync server answered HTTP %s", response.status_code)
            ) from exc
        if "error" in answer:
            raise UserError(
                _(
                    "RegNakes Sync: %(message)s (code %(code)s, request %(rid)s)",
                    message=answer["error"].get("message"),
                    code=answer["error"].get("code"),
                    rid=request_id,
                )
            )
        return answer.get("result")
