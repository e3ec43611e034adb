import base64
import hashlib
import hmac
import json

from odoo.tests.common import TransactionCase

from ..models.regnakes_client import make_token


class TestToken(TransactionCase):
    def test_token_is_hs256_with_audience_and_login(self):
        token = make_token("s3cret", "admin", now=1_700_000_000)
        header, payload, signature = token.split(".")
        pad = "=" * (-len(payload) % 4)
        claims = json.loads(base64.urlsafe_b64decode(payload + pad))
        self.assertEqual(claims["aud"], "sdmk-regnakes")
        self.assertEqual(claims["sub"], "admin")
        self.assertEqual(claims["exp"], 1_700_000_300)
        expected = hmac.new(
            b"s3cret", f"{header}.{payload}".encode(), hashlib.sha256
        ).digest()
        self.assertEqual(
            signature, base64.urlsafe_b64encode(expected).rstrip(b"=").decode()
        )
