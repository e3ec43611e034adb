"""A RegNakes simulator and a RegNakes Sync server of a test's own, as real processes, for the tests
that stop, restart or kill the server (issue 19). The binaries and keys come from
scripts/odoo-addon-tests.sh: ``REGNAKES_TEST_SERVER_BIN``, ``REGNAKES_TEST_SIM_BIN``; the server holds
the public half of the key the addon signs with and notifies this Odoo (its HTTP port in tests)."""

import json
import os
import re
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request

from odoo.tools import config

from ..regnakes_sync_client import public_key_of

SERVER_BIN = os.environ.get("REGNAKES_TEST_SERVER_BIN")
SIM_BIN = os.environ.get("REGNAKES_TEST_SIM_BIN")
LISTENING = re.compile(r"listening on (http://\S+)")


def available():
    return bool(SERVER_BIN and SIM_BIN)


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_url(log_path, process, seconds=20):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with open(log_path, encoding="utf-8", errors="replace") as log:
            match = LISTENING.search(log.read())
        if match:
            return match.group(1)
        if process.poll() is not None:
            raise RuntimeError(f"{log_path} exited with {process.returncode}")
        time.sleep(0.05)
    raise RuntimeError(f"{log_path}: not listening within {seconds} s")


class OwnServer:
    """A simulator with ``records`` workers whose pages each take ``latency_ms``, and a server on a
    fixed port (so Odoo's configured URL stays right across restarts) with its own SQLite database."""

    # pylint: disable=too-many-arguments
    def __init__(
        self, private_key, notify_secret, records=2000, latency_ms=150, lease_seconds=2, bad_share=0.05
    ):
        self.dir = tempfile.mkdtemp(prefix="regnakes-odoo-test-")
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.sim = self._spawn(
            "sim",
            [
                SIM_BIN, "--listen", "127.0.0.1:0", "--records", str(records), "--seed", "19",
                "--bad-share", str(bad_share),
            ],
            {},
        )
        self.sim_url = _wait_for_url(self._log("sim"), self.sim)
        self.set_latency(latency_ms)
        self.env = {
            "DATABASE_URL": f"sqlite://{self.dir}/server.db?mode=rwc",
            "LISTEN_ADDR": f"127.0.0.1:{self.port}",
            "REGNAKES_BASE_URL": self.sim_url,
            "REGNAKES_CLIENT_ID": "sdmk-etl",
            "REGNAKES_CLIENT_SECRET": "sim-secret",
            "REGNAKES_PAGE_SIZE": "100",
            "RETRY_BASE_DELAY_MS": "20",
            "RPC_JWT_PUBLIC_KEY": public_key_of(private_key),
            "ODOO_NOTIFY_URL": f"http://127.0.0.1:{config['http_port']}/sdmk_regnakes/notify",
            "ODOO_NOTIFY_SECRET": notify_secret,
            "SYNC_SCHEDULE": "off",
            "SYNC_FULL_SCHEDULE": "off",
            "SYNC_LEASE_SECONDS": str(lease_seconds),
            "NIK_INDEX_KEY": "odoo-tests-index-key-odoo-tests-index-key",
            "NIK_ENCRYPTION_KEY": "t1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
            "RUST_LOG": "warn",
        }
        self.server = None
        self.start()

    def _log(self, name):
        return os.path.join(self.dir, f"{name}.log")

    def _spawn(self, name, argv, env):
        # A new log per start: "listening on" must come from this start, not an earlier one.
        with open(self._log(name), "w", encoding="utf-8") as log:
            return subprocess.Popen(  # pylint: disable=consider-using-with
                argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={"PATH": os.environ.get("PATH", ""), **env},
            )

    def set_latency(self, latency_ms):
        request = urllib.request.Request(
            f"{self.sim_url}/_sim/faults",
            data=json.dumps({"latency_ms": latency_ms}).encode(),
            headers={"Content-Type": "application/json"},
            method="PUT",
        )
        with urllib.request.urlopen(request, timeout=5):  # nosec B310: the loopback simulator
            pass

    def advance(self, **spec):
        """Changes the simulated registry (`POST /_sim/advance`); returns its report."""
        request = urllib.request.Request(
            f"{self.sim_url}/_sim/advance",
            data=json.dumps(spec).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=5) as answer:  # nosec B310: the loopback simulator
            return json.loads(answer.read())

    def start(self):
        self.server = self._spawn("server", [SERVER_BIN, "serve"], self.env)
        _wait_for_url(self._log("server"), self.server)

    def stop(self):
        """A clean stop (SIGTERM): the server ends what it can and exits."""
        self.server.send_signal(signal.SIGTERM)
        self.server.wait(timeout=30)

    def kill(self):
        """``kill -9``: nothing is ended, the running batch is left `running` in the database."""
        self.server.kill()
        self.server.wait(timeout=10)

    def close(self, registry=None):
        for process in (self.server, self.sim):
            if process and process.poll() is None:
                process.kill()
                process.wait(timeout=10)
        if registry is not None and registry.test_lock is not None:
            # A notification the server sent before it stopped is handled before the next test uses
            # the shared transaction: its request holds this lock.
            with registry.test_lock:
                pass

    def server_log(self):
        with open(self._log("server"), encoding="utf-8", errors="replace") as log:
            return log.read()
