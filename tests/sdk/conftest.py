"""Fixtures for the Python SDK tests: a real `otsd serve` on a free port with a temporary
data directory, a signed OTSClient for it, and helpers to create throw-away tables.

The binary comes from $OTSD_BIN (default target/debug/otsd). The server prints a line
`listening on http://127.0.0.1:PORT`; the fixture waits for it in the server's log file.
"""

import itertools
import os
import re
import resource
import shutil
import subprocess
import tempfile
import time

import pytest
import tablestore
from tablestore import CapacityUnit, ReservedThroughput, TableMeta, TableOptions
from tablestore.retry import NoRetryPolicy

ACCESS_KEY_ID = "otsd"
ACCESS_KEY_SECRET = "otsd-secret"
INSTANCE = "test"
_LISTENING = re.compile(r"listening on (http://127\.0\.0\.1:\d+)")
_REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _otsd_bin():
    path = os.environ.get("OTSD_BIN", os.path.join(_REPO, "target", "debug", "otsd"))
    if not os.path.exists(path):
        pytest.exit(f"otsd binary not found at {path}; build it or set OTSD_BIN", returncode=2)
    return path


class OtsdServer:
    """One otsd process over one data directory; restartable on the same directory."""

    def __init__(self, data_dir, env=None, open_files=None):
        self.data_dir = data_dir
        # Extra environment for the server process (e.g. OTSD_TXN_TIMEOUT_SECS).
        self.env = dict(os.environ, **(env or {}))
        # (soft, hard) limit on open files for the server process, or None to inherit.
        self.open_files = open_files
        self.proc = None
        self.endpoint = None
        self.log_path = os.path.join(os.path.dirname(data_dir), os.path.basename(data_dir) + ".log")

    def start(self, timeout_s=30.0):
        log = open(self.log_path, "ab")
        start_offset = log.tell()
        self.proc = subprocess.Popen(
            [
                _otsd_bin(), "serve",
                "--listen", "127.0.0.1:0",
                "--data-dir", self.data_dir,
                "--access-key-id", ACCESS_KEY_ID,
                "--access-key-secret", ACCESS_KEY_SECRET,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=self.env,
            preexec_fn=self._limit_open_files if self.open_files else None,
        )
        log.close()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with open(self.log_path, "rb") as f:
                f.seek(start_offset)
                match = _LISTENING.search(f.read().decode("utf-8", "replace"))
            if match:
                self.endpoint = match.group(1)
                return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.kill()
        with open(self.log_path, "rb") as f:
            output = f.read().decode("utf-8", "replace")
        raise RuntimeError(f"otsd did not start; output:\n{output}")

    def _limit_open_files(self):
        resource.setrlimit(resource.RLIMIT_NOFILE, self.open_files)

    def stop(self, timeout_s=30.0):
        """Graceful stop (SIGTERM: drain, flush, exit)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def kill(self):
        """Hard stop (SIGKILL): acknowledged writes must survive it."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def restart(self, hard=False):
        if hard:
            self.kill()
        else:
            self.stop()
        return self.start()

    def client(self, instance=INSTANCE):
        return tablestore.OTSClient(
            self.endpoint, ACCESS_KEY_ID, ACCESS_KEY_SECRET, instance,
            retry_policy=NoRetryPolicy(), logger_name="otsd-sdk-tests",
        )


@pytest.fixture(scope="session")
def otsd_server():
    root = tempfile.mkdtemp(prefix="otsd-sdk-")
    server = OtsdServer(os.path.join(root, "data")).start()
    yield server
    server.stop()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def client(otsd_server):
    return otsd_server.client()


@pytest.fixture
def fresh_server():
    """A server of its own (own data dir) for tests that restart or kill it."""
    root = tempfile.mkdtemp(prefix="otsd-sdk-restart-")
    server = OtsdServer(os.path.join(root, "data")).start()
    yield server
    server.kill()
    shutil.rmtree(root, ignore_errors=True)


_counter = itertools.count()


@pytest.fixture
def table_name(request):
    """A table name unique to this test (dropped afterwards if the test created it)."""
    base = re.sub(r"[^A-Za-z0-9_]", "_", request.node.name)[:40]
    name = f"t_{base}_{next(_counter)}"
    yield name
    _drop_quietly(request, name)


def _drop_quietly(request, name):
    if "client" in request.fixturenames:
        cli = request.getfixturevalue("client")
        try:
            cli.delete_table(name)
        except tablestore.OTSServiceError:
            pass


def create_table(cli, name, pk_schema, options=None, cu=(0, 0), defined_columns=None):
    meta = TableMeta(name, pk_schema, defined_columns or [])
    cli.create_table(meta, options or TableOptions(), ReservedThroughput(CapacityUnit(*cu)))
    return name


@pytest.fixture
def simple_table(client, table_name):
    """A table keyed by (uid STRING, seq INTEGER) with default options."""
    return create_table(client, table_name, [("uid", "STRING"), ("seq", "INTEGER")])


def assert_service_error(exc_info, status, code, message=None):
    err = exc_info.value
    assert isinstance(err, tablestore.OTSServiceError), repr(err)
    assert err.get_http_status() == status, (err.get_http_status(), err.get_error_code(), err.get_error_message())
    assert err.get_error_code() == code, (err.get_error_code(), err.get_error_message())
    if message is not None:
        assert err.get_error_message() == message
