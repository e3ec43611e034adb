"""The client library over HTTPS against the real server: verified with a CA bundle, with a client
certificate for a server that requires one, and every certificate problem named in plain words (an
unknown CA, an expired certificate, another host name, a refused or missing client certificate).

The certificates are throw-away ones made here with ``cryptography``: a CA for the server, a CA for
Odoo's client certificates, and a server certificate that expired yesterday."""

import contextlib
import datetime
import ipaddress

import pytest
from conftest import PRIVATE_KEY, server_env, serving
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from regnakes_sync_client import RegnakesSyncClient, RegnakesSyncError

NOW = datetime.datetime.now(datetime.timezone.utc)


def _name(common_name):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _pem_key(key):
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


class Ca:
    """A throw-away certificate authority that writes what it issues into ``directory``."""

    def __init__(self, directory, name):
        self.directory = directory
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(_name(name))
            .issuer_name(_name(name))
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(NOW - datetime.timedelta(days=30))
            .not_valid_after(NOW + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self.key, hashes.SHA256())
        )
        self.bundle = self._write(f"{name}.crt".replace(" ", "-"), self._pem(self.cert))

    @staticmethod
    def _pem(cert):
        return cert.public_bytes(serialization.Encoding.PEM)

    def _write(self, name, data):
        path = self.directory / name
        path.write_bytes(data)
        return str(path)

    def issue(self, stem, names, usage, days=(-1, 30)):
        """(certificate file, key file) for ``names`` (DNS names or IP addresses), valid from
        ``days[0]`` to ``days[1]`` days from now."""
        key = ec.generate_private_key(ec.SECP256R1())
        alt_names = []
        for name in names:
            try:
                alt_names.append(x509.IPAddress(ipaddress.ip_address(name)))
            except ValueError:
                alt_names.append(x509.DNSName(name))
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(stem))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(NOW + datetime.timedelta(days=days[0]))
            .not_valid_after(NOW + datetime.timedelta(days=days[1]))
            .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        return (
            self._write(f"{stem}.crt", self._pem(cert)),
            self._write(f"{stem}.key", _pem_key(key)),
        )


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    directory = tmp_path_factory.mktemp("pki")
    server_ca = Ca(directory, "RegNakes Sync CA")
    odoo_ca = Ca(directory, "Odoo clients CA")
    return {
        "directory": directory,
        "server_ca": server_ca,
        "odoo_ca": odoo_ca,
        "server": server_ca.issue("server", ["localhost"], ExtendedKeyUsageOID.SERVER_AUTH),
        "expired": server_ca.issue(
            "expired", ["localhost"], ExtendedKeyUsageOID.SERVER_AUTH, days=(-30, -1)
        ),
        "odoo": odoo_ca.issue("odoo", ["odoo.internal"], ExtendedKeyUsageOID.CLIENT_AUTH),
        "stranger": Ca(directory, "Somebody else").issue(
            "stranger", ["stranger"], ExtendedKeyUsageOID.CLIENT_AUTH
        ),
    }


@contextlib.contextmanager
def https_server(simulator, tmp_path_factory, cert_pair, client_ca=None):
    """A server on HTTPS with ``cert_pair`` (and a client CA) for the ``with`` block; gives its port."""
    database = tmp_path_factory.mktemp("db") / "tls.db"
    extra = {"TLS_CERT_FILE": cert_pair[0], "TLS_KEY_FILE": cert_pair[1]}
    if client_ca:
        extra["TLS_CLIENT_CA_FILE"] = client_ca
    with serving(server_env(simulator, database, extra)) as address:
        assert address.startswith("https://"), address
        yield address.rsplit(":", 1)[1]


@pytest.fixture(scope="module")
def https_port(simulator, pki, tmp_path_factory):
    with https_server(simulator, tmp_path_factory, pki["server"]) as port:
        yield port


@pytest.fixture(scope="module")
def mtls_port(simulator, pki, tmp_path_factory):
    client_ca = pki["odoo_ca"].bundle
    with https_server(simulator, tmp_path_factory, pki["server"], client_ca) as port:
        yield port


@pytest.fixture(scope="module")
def expired_port(simulator, pki, tmp_path_factory):
    with https_server(simulator, tmp_path_factory, pki["expired"]) as port:
        yield port


def client(url, **tls):
    return RegnakesSyncClient(url, PRIVATE_KEY, "admin.sdmk", ["regnakes.viewer"], timeout=10, **tls)


def failure(url, **tls):
    with pytest.raises(RegnakesSyncError) as raised:
        client(url, **tls).status()
    return raised.value


def test_https_with_the_servers_ca_bundle(https_port, pki):
    status = client(
        f"https://localhost:{https_port}", ca_bundle=pki["server_ca"].bundle
    ).status()
    assert status["enabled"] in (True, False)


def test_an_unknown_ca_is_named(https_port, pki):
    # Trusting another CA, and trusting only the system's CAs: either way the server's CA is unknown.
    for tls in ({"ca_bundle": pki["odoo_ca"].bundle}, {}):
        error = failure(f"https://localhost:{https_port}", **tls)
        assert error.kind == "tls_unknown_ca", (tls, error.kind, error.message)
        assert "not issued by a CA trusted here" in error.message


def test_an_expired_certificate_is_named(expired_port, pki):
    error = failure(f"https://localhost:{expired_port}", ca_bundle=pki["server_ca"].bundle)
    assert error.kind == "tls_expired", error.message
    assert "expired" in error.message


def test_a_certificate_for_another_host_is_named(https_port, pki):
    # The certificate names localhost, not the address.
    error = failure(f"https://127.0.0.1:{https_port}", ca_bundle=pki["server_ca"].bundle)
    assert error.kind == "tls_wrong_host", error.message
    assert "another" in error.message


def test_a_client_certificate_is_presented_to_a_server_that_requires_one(mtls_port, pki):
    status = client(
        f"https://localhost:{mtls_port}",
        ca_bundle=pki["server_ca"].bundle,
        client_cert=pki["odoo"],
    ).status()
    assert "enabled" in status


@pytest.mark.parametrize("presented", [None, "stranger"])
def test_a_missing_or_foreign_client_certificate_is_named(mtls_port, pki, presented):
    tls = {"ca_bundle": pki["server_ca"].bundle}
    if presented:
        tls["client_cert"] = pki[presented]
    error = failure(f"https://localhost:{mtls_port}", **tls)
    assert error.kind == "tls_client_cert_refused", error.message
    assert "refused Odoo's client certificate" in error.message


def test_https_to_a_plain_http_server_and_missing_files_are_named(server, pki):
    port = server.rsplit(":", 1)[1]
    error = failure(f"https://localhost:{port}", ca_bundle=pki["server_ca"].bundle)
    assert error.kind == "tls", error.message
    assert "does not speak HTTPS" in error.message
    missing = str(pki["directory"] / "no-such-bundle.pem")
    error = failure(f"https://localhost:{port}", ca_bundle=missing)
    assert error.kind == "tls_files", error.message


def test_a_host_name_mismatch_found_by_urllib3_1_is_named_too():
    """Odoo 17 ships urllib3 1.26, which checks host names itself and raises its own
    ``CertificateError`` (a ``ValueError``) inside requests' ``SSLError``; urllib3 2 lets ``ssl`` do it."""
    import requests
    from regnakes_sync_client import tls_problem

    class CertificateError(ValueError):
        pass

    inner = CertificateError("hostname '127.0.0.1' doesn't match 'localhost'")
    wrapped = requests.exceptions.SSLError(inner)
    assert tls_problem(wrapped)[0] == "tls_wrong_host"
    assert "127.0.0.1" in tls_problem(wrapped)[1]
    assert tls_problem(requests.exceptions.ConnectionError(OSError("refused"))) is None
