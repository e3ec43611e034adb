"""Client of the RegNakes Sync server's JSON-RPC surface (CONTRACT §3), with no Odoo import.

The Odoo models use it, and so can an operator's script or a test: it mints a short-lived JWT for one
caller (``sub`` = login, ``roles`` from their groups), signed with Odoo's Ed25519 private key (EdDSA; the
server holds only the public key) or, for servers not yet moved, HS256 with a shared secret; it sends
``X-Request-ID``, bounds every request with a timeout, and turns every way a call can fail into one
``RegnakesSyncError`` whose ``kind`` says what went wrong in terms a person can act on. It also checks
the signature of the server's batch notification (``X-RegNakes-Signature``, keyed with its own secret).

Over ``https://`` it verifies the server against a CA bundle (``ca_bundle``: the CA that issued the
server's certificate; else the system's trusted CAs) and, for a server that requires one, presents a
client certificate (``client_cert``: the paths of the certificate and its key). Certificate problems
are named: an expired certificate, one for another host name, one from a CA not trusted here, and a
client certificate the server refused.
"""

import base64
import hashlib
import hmac
import json
import ssl
import time
import uuid

import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

AUDIENCE = "sdmk-regnakes"
ROLE_ADMIN = "regnakes.admin"
ROLE_VIEWER = "regnakes.viewer"
ROLE_VERIFIER = "regnakes.verifier"
TOKEN_LIFETIME = 300
TIMEOUT = 30
SIGNATURE_HEADER = "X-RegNakes-Signature"
SIGNATURE_TOLERANCE = 300

# JSON-RPC error codes of the contract, by what they mean to a caller.
KIND_BY_CODE = {
    -32001: "unauthenticated",
    -32003: "forbidden",
    -32004: "not_found",
    -32010: "disabled",
    -32011: "busy",
    -32029: "rate_limited",
    -32602: "invalid_params",
    -32600: "invalid_request",
    -32601: "invalid_request",
    -32700: "invalid_request",
    -32603: "server",
}


class RegnakesSyncError(Exception):
    """A call that did not succeed.

    ``kind`` is one of: ``unreachable`` (no answer: refused, timed out, DNS), ``not_a_server`` (something
    answered, but not a RegNakes Sync server: wrong URL), ``unauthenticated`` (wrong shared secret, expired
    token), ``forbidden`` (the caller's role may not do this), ``disabled`` (integration switched off),
    ``invalid_params``, ``not_found``, ``rate_limited``, ``invalid_request``, ``server`` (the server failed);
    over HTTPS: ``tls_expired``, ``tls_wrong_host``, ``tls_unknown_ca``, ``tls_client_cert_refused``,
    ``tls_files`` (Odoo's own CA bundle or client certificate cannot be read) and ``tls`` (any other
    TLS failure, e.g. an ``https://`` URL for a server that speaks plain HTTP).
    """

    def __init__(self, kind, message, code=None, request_id=None, http_status=None):
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.code = code
        self.request_id = request_id
        self.http_status = http_status


def _b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


PRIVATE_KEY_PEM = "-----BEGIN PRIVATE KEY-----"


def generate_signing_key():
    """A new Ed25519 key pair: (private key PEM for Odoo, public key PEM for RPC_JWT_PUBLIC_KEY)."""
    private = ed25519.Ed25519PrivateKey.generate()
    private_pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return private_pem, public_key_of(private_pem)


def public_key_of(private_pem):
    """The public key PEM of an Ed25519 private key PEM (not a secret: the server's RPC_JWT_PUBLIC_KEY)."""
    private = serialization.load_pem_private_key(private_pem.encode(), password=None)
    return (
        private.public_key()
        .public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        .decode()
    )


def make_token(key, login, roles=(), now=None, lifetime=TOKEN_LIFETIME):
    """A JWT for the sync server, valid for ``lifetime`` seconds: EdDSA when ``key`` is an Ed25519 private
    key PEM, else HS256 with ``key`` as the shared secret."""
    now = int(now if now is not None else time.time())
    eddsa = key.lstrip().startswith(PRIVATE_KEY_PEM)
    header = _b64(json.dumps({"alg": "EdDSA" if eddsa else "HS256", "typ": "JWT"}).encode())
    claims = {
        "aud": AUDIENCE,
        "iat": now,
        "nbf": now,
        "exp": now + lifetime,
        "sub": login,
        "roles": list(roles),
    }
    payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
    signing_input = f"{header}.{payload}".encode()
    if eddsa:
        private = serialization.load_pem_private_key(key.encode(), password=None)
        signature = private.sign(signing_input)
    else:
        signature = hmac.new(key.encode(), signing_input, hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64(signature)}"


def sign_notification(secret, body, now=None):
    """The ``X-RegNakes-Signature`` value the server sends with ``body`` (bytes)."""
    timestamp = int(now if now is not None else time.time())
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify_notification(secret, header, body, now=None, tolerance=SIGNATURE_TOLERANCE):
    """True when ``header`` signs exactly ``body`` (bytes) with ``secret`` (the server's
    ODOO_NOTIFY_SECRET), at most ``tolerance`` s away. Replays are the receiver's to refuse."""
    if not secret or not header:
        return False
    parts = dict(
        part.strip().split("=", 1) for part in header.split(",") if "=" in part
    )
    try:
        timestamp = int(parts.get("t", ""))
    except ValueError:
        return False
    now = int(now if now is not None else time.time())
    if abs(now - timestamp) > tolerance:
        return False
    expected = sign_notification(secret, body, now=timestamp).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))


# OpenSSL's verification results (X509_V_ERR_*), by what they mean to the person who set the URL.
TLS_VERIFY_KINDS = {
    9: ("tls_expired", "the server's certificate is not valid yet"),
    10: ("tls_expired", "the server's certificate has expired"),
    62: ("tls_wrong_host", "the server's certificate is for another host name"),
    64: ("tls_wrong_host", "the server's certificate is for another address"),
    2: ("tls_unknown_ca", "the server's certificate was not issued by a CA trusted here"),
    18: ("tls_unknown_ca", "the server's certificate is self-signed and not trusted here"),
    19: ("tls_unknown_ca", "the server's certificate was not issued by a CA trusted here"),
    20: ("tls_unknown_ca", "the server's certificate was not issued by a CA trusted here"),
    21: ("tls_unknown_ca", "the server's certificate was not issued by a CA trusted here"),
}

# Alerts a server sends when it does not accept the client's certificate (or its absence).
CLIENT_CERT_ALERTS = (
    "CERTIFICATE_REQUIRED",
    "BAD_CERTIFICATE",
    "UNKNOWN_CA",
    "CERTIFICATE_UNKNOWN",
    "ACCESS_DENIED",
    "UNSUPPORTED_CERTIFICATE",
    "CERTIFICATE_EXPIRED",
    "CERTIFICATE_REVOKED",
)


def _is_hostname_mismatch(error):
    """urllib3 1.x (Odoo 17 ships it) checks host names itself and raises its own ``CertificateError``
    (a ``ValueError``, not an ``ssl.SSLError``)."""
    return type(error).__name__ == "CertificateError" and not isinstance(error, ssl.SSLError)


def _ssl_errors(exc):
    """Every ``ssl.SSLError`` (and urllib3's own host-name ``CertificateError``) in an exception's
    chain: requests wraps urllib3's errors, which wrap the ``ssl`` module's (as causes, contexts,
    arguments or a ``reason``)."""
    stack, seen = [exc], set()
    while stack:
        error = stack.pop()
        if error is None or id(error) in seen:
            continue
        seen.add(id(error))
        if isinstance(error, ssl.SSLError) or _is_hostname_mismatch(error):
            yield error
        stack.extend([error.__cause__, error.__context__, getattr(error, "reason", None)])
        stack.extend(arg for arg in getattr(error, "args", ()) if isinstance(arg, BaseException))


def tls_problem(exc, presented_cert=False):
    """``(kind, words)`` for a failed call whose cause was TLS, else ``None``. ``presented_cert`` says
    whether the client offered a certificate: a server that requires one and gets none may close the
    connection before its alert is read, which shows as an end of file in the middle of TLS."""
    for error in _ssl_errors(exc):
        if _is_hostname_mismatch(error):
            return "tls_wrong_host", f"the server's certificate is for another host name ({error})"
        if isinstance(error, ssl.SSLCertVerificationError):
            kind, words = TLS_VERIFY_KINDS.get(
                error.verify_code, ("tls", "the server's certificate could not be verified")
            )
            return kind, f"{words} ({error.verify_message})"
        reason = (getattr(error, "reason", None) or "").upper()
        if "ALERT" in reason and any(alert in reason for alert in CLIENT_CERT_ALERTS):
            return (
                "tls_client_cert_refused",
                f"the server refused Odoo's client certificate ({reason.lower()})",
            )
        if reason in ("WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "PACKET_LENGTH_TOO_LONG"):
            return "tls", "the server does not speak HTTPS at this URL (is it http://?)"
        if isinstance(error, ssl.SSLEOFError):
            return "tls_client_cert_refused", (
                "the server refused Odoo's client certificate: it ended the TLS connection, "
                + (
                    "and the certificate Odoo presented is not one it accepts"
                    if presented_cert
                    else "and Odoo has no client certificate set"
                )
            )
    for error in _ssl_errors(exc):
        return "tls", f"TLS failed ({getattr(error, 'reason', None) or error})"
    return None


class RegnakesSyncClient:
    """Calls the server for one caller. Cheap to build: one per Odoo request."""

    def __init__(
        self,
        base_url,
        signing_key,
        login,
        roles=(),
        timeout=TIMEOUT,
        session=None,
        ca_bundle=None,
        client_cert=None,
    ):
        self.base_url = (base_url or "").rstrip("/")
        # Never printed: a client is built per request and not kept.
        self.signing_key = signing_key
        self.login = login
        self.roles = tuple(roles)
        self.timeout = timeout
        self.session = session or requests
        # The CA bundle the server's certificate must chain to (a file); the system's CAs without one.
        self.verify = ca_bundle or True
        # (certificate file, key file) presented to a server that requires a client certificate.
        self.client_cert = tuple(client_cert) if client_cert else None

    def call(self, method, params=None, request_id=None):
        """Calls one method; returns its result or raises ``RegnakesSyncError``."""
        request_id = request_id or f"odoo-{uuid.uuid4()}"
        body = {
            "jsonrpc": "2.0",
            "id": request_id,
            "method": method,
            "params": params or {},
        }
        token = make_token(self.signing_key, self.login, self.roles)
        headers = {"Authorization": f"Bearer {token}", "X-Request-ID": request_id}
        try:
            response = self.session.post(
                f"{self.base_url}/jsonrpc",
                json=body,
                headers=headers,
                timeout=self.timeout,
                verify=self.verify,
                cert=self.client_cert,
            )
        except requests.Timeout as exc:
            raise RegnakesSyncError(
                "unreachable",
                f"no answer within {self.timeout} s",
                request_id=request_id,
            ) from exc
        except requests.RequestException as exc:
            kind, words = tls_problem(exc, presented_cert=bool(self.client_cert)) or (
                "unreachable",
                f"server unreachable ({exc.__class__.__name__})",
            )
            raise RegnakesSyncError(kind, words, request_id=request_id) from exc
        except OSError as exc:
            # requests checks the CA bundle and client certificate files before it connects.
            raise RegnakesSyncError(
                "tls_files", f"Odoo's TLS files cannot be used: {exc}", request_id=request_id
            ) from exc
        return self._result(response, request_id)

    @staticmethod
    def _result(response, request_id):
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if not isinstance(answer, dict) or answer.get("jsonrpc") != "2.0":
            raise RegnakesSyncError(
                "not_a_server",
                f"the URL answered HTTP {response.status_code}, not JSON-RPC",
                request_id=request_id,
                http_status=response.status_code,
            )
        error = answer.get("error")
        if error:
            code = error.get("code")
            # A JSON-RPC server with codes of its own (Odoo's `/jsonrpc` answers 100 or 200): the URL is
            # not a RegNakes Sync server.
            raise RegnakesSyncError(
                KIND_BY_CODE.get(code, "not_a_server"),
                error.get("message") or "",
                code=code,
                request_id=request_id,
                http_status=response.status_code,
            )
        return answer.get("result")

    # The methods of CONTRACT §3, named as a caller thinks of them.
    def status(self):
        return self.call("sync.status")

    def start(
        self, mode="incremental", professions=None, trigger="manual", request_id=None, dry_run=False
    ):
        params = {"mode": mode, "trigger": trigger}
        if professions:
            params["professions"] = list(professions)
        if dry_run:
            params["dry_run"] = True
        return self.call("sync.start", params, request_id=request_id)

    def cancel(self, batch_id):
        return self.call("sync.cancel", {"batch_id": batch_id})["batch"]

    def batches(self, limit=20, offset=0, status=None):
        params = {"limit": limit, "offset": offset}
        if status:
            params["status"] = status
        return self.call("batch.list", params)

    def batch(self, batch_id):
        return self.call("batch.get", {"batch_id": batch_id})["batch"]

    def issues(self, batch_id, kind="errors", limit=50, offset=0):
        """Rejected rows (``errors``) or stored rows with a warning (``warnings``) of a batch, paged."""
        if kind not in ("errors", "warnings"):
            raise ValueError(f"kind must be errors or warnings, not {kind!r}")
        params = {"batch_id": batch_id, "limit": limit, "offset": offset}
        return self.call(f"batch.{kind}", params)

    def set_enabled(self, enabled, reason=None):
        params = {"enabled": bool(enabled)}
        if reason:
            params["reason"] = reason
        return self.call("integration.set_enabled", params)["enabled"]

    def search_workers(self, query=None, profession=None, limit=20, offset=0, missing=False):
        params = {"limit": limit, "offset": offset}
        if query:
            params["query"] = query
        if profession:
            params["profession"] = profession
        if missing:
            params["missing"] = True
        return self.call("worker.search", params)

    def review_cases(self, status="open", limit=50, offset=0):
        return self.call("review.list", {"status": status, "limit": limit, "offset": offset})

    def review_case(self, case_id):
        return self.call("review.get", {"case_id": case_id})["case"]

    def decide(self, case_id, decision, note=None):
        params = {"case_id": case_id, "decision": decision}
        if note:
            params["note"] = note
        return self.call("review.decide", params)

    def retry(self, batch_id, reasons=None, str_numbers=None):
        params = {"batch_id": batch_id}
        if reasons:
            params["reasons"] = list(reasons)
        if str_numbers:
            params["str_numbers"] = list(str_numbers)
        return self.call("batch.retry", params)

    def changes(self, batch_id, outcome=None, limit=50, offset=0):
        params = {"batch_id": batch_id, "limit": limit, "offset": offset}
        if outcome:
            params["outcome"] = outcome
        return self.call("batch.changes", params)
