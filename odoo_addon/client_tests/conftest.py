"""Fixtures: the real ``regnakes-sim`` and ``regnakes-sync serve`` processes on loopback, a fresh SQLite
database each session, and a stand-in for Odoo's notification endpoint (a plain HTTP server)."""

import contextlib
import http.server
import json
import os
import pathlib
import subprocess
import sys
import threading
import time

import pytest

ADDON = pathlib.Path(__file__).resolve().parent.parent / "sdmk_integration_regnakes"
REPO = ADDON.parent.parent
sys.path.insert(0, str(ADDON))

# The server holds the public key; Odoo (these tests) the private one. HS256 with SECRET is still
# accepted; the notification has a key of its own.
SECRET = "client-tests-secret-client-tests-secret"
NOTIFY_SECRET = "client-tests-notify-secret-client-tests"


def _key_pair():
    from regnakes_sync_client import generate_signing_key

    return generate_signing_key()


PRIVATE_KEY, PUBLIC_KEY = _key_pair()
RECORDS = 300


def _binary(name):
    path = pathlib.Path(
        os.environ.get(f"{name.upper().replace('-', '_')}_BIN", REPO / "target" / "debug" / name)
    )
    if not path.exists():
        pytest.fail(f"{path} is missing: build it with `cargo build -p regnakes-sync -p regnakes-sim`")
    return str(path)


def _spawn(args, prefix, env=None, address_on="stdout"):
    """Starts a binary and reads the address it prints on its first line starting with ``prefix``."""
    pipe = {"stdout": subprocess.PIPE, "stderr": subprocess.DEVNULL}
    if address_on == "stderr":
        pipe = {"stdout": subprocess.DEVNULL, "stderr": subprocess.PIPE}
    process = subprocess.Popen(args, env=env, text=True, **pipe)
    return process, _first_line(getattr(process, address_on), prefix, process)


def _first_line(stream, prefix, process):
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = stream.readline()
        if not line:
            pytest.fail(f"process exited ({process.poll()}) before printing {prefix!r}")
        if line.startswith(prefix):
            return line[len(prefix):].split()[0]
    pytest.fail(f"no {prefix!r} line within 60 s")


class NotificationSink(http.server.ThreadingHTTPServer):
    """Receives the server's POSTs as Odoo's controller would, keeping the raw bytes and headers."""

    def __init__(self):
        self.received = []

        sink = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                sink.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args):
                pass

        super().__init__(("127.0.0.1", 0), Handler)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server_address[1]}/sdmk_regnakes/notify"


@pytest.fixture(scope="session")
def sink():
    server = NotificationSink()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()


@pytest.fixture(scope="session")
def simulator():
    args = [_binary("regnakes-sim"), "--listen", "127.0.0.1:0", "--records", str(RECORDS),
            "--bad-share", "0.1", "--seed", "7"]
    process, url = _spawn(args, "regnakes-sim listening on ", address_on="stderr")
    yield url
    process.terminate()
    process.wait(timeout=10)


def server_env(simulator, database, extra=None):
    env = {
        "PATH": os.environ.get("PATH", ""),
        "DATABASE_URL": f"sqlite://{database}?mode=rwc",
        "LISTEN_ADDR": "127.0.0.1:0",
        "REGNAKES_BASE_URL": simulator,
        "REGNAKES_CLIENT_ID": "sdmk-etl",
        "REGNAKES_CLIENT_SECRET": "sim-secret",
        "REGNAKES_PAGE_SIZE": "100",
        "RETRY_BASE_DELAY_MS": "20",
        "RPC_JWT_PUBLIC_KEY": PUBLIC_KEY,
        "RPC_JWT_SECRET": SECRET,
        "ODOO_NOTIFY_SECRET": NOTIFY_SECRET,
        "SYNC_SCHEDULE": "off",
        "SYNC_FULL_SCHEDULE": "off",
        "NIK_INDEX_KEY": "client-tests-nik-index-key-client-tests",
        "NIK_ENCRYPTION_KEY": "t1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
        "RUST_LOG": "warn",
    }
    env.update(extra or {})
    return env


@contextlib.contextmanager
def serving(env):
    """``regnakes-sync serve`` with ``env`` for the ``with`` block; gives the address it printed."""
    process, address = _spawn(
        [_binary("regnakes-sync"), "serve"], "regnakes-sync listening on ", env=env
    )
    try:
        yield address
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="session")
def server(simulator, sink, tmp_path_factory):
    database = tmp_path_factory.mktemp("db") / "client-tests.db"
    with serving(server_env(simulator, database, {"ODOO_NOTIFY_URL": sink.url})) as address:
        yield address


@pytest.fixture
def client_for(server):
    from regnakes_sync_client import RegnakesSyncClient

    def build(roles=("regnakes.admin",), login="admin.sdmk", key=PRIVATE_KEY, url=None, timeout=10):
        return RegnakesSyncClient(url or server, key, login, roles, timeout=timeout)

    return build


def wait_until(what, check, seconds=60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    pytest.fail(f"{what}: not within {seconds} s")


def pretty(value):
    return json.dumps(value, indent=1)[:2000]
