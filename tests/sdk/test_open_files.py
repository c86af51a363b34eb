"""File descriptors through the official Python SDK: otsd raises its soft limit to the hard
one, and when descriptors do run out a new table is refused with a clear 503, open
connections keep working, and new connections are closed at once instead of waiting in the
backlog until the client's timeout."""

import os
import shutil
import socket
import tempfile
import time

import pytest
from tablestore import CapacityUnit, ReservedThroughput, TableMeta, TableOptions
from tablestore.error import OTSServiceError

from conftest import OtsdServer


@pytest.fixture
def server_with(request):
    """Starts a server whose open-file limit is (soft, hard); killed afterwards."""
    root = tempfile.mkdtemp(prefix="otsd-sdk-fds-")
    servers = []

    def start(open_files):
        server = OtsdServer(os.path.join(root, "data"), open_files=open_files).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.kill()
    shutil.rmtree(root, ignore_errors=True)


def _open_files_limit(pid):
    with open(f"/proc/{pid}/limits") as f:
        for line in f:
            if line.startswith("Max open files"):
                return int(line.split()[3])
    raise AssertionError("no open files line")


def _create(client, name):
    client.create_table(
        TableMeta(name, [("k", "INTEGER")]), TableOptions(), ReservedThroughput(CapacityUnit(0, 0))
    )


def test_the_soft_open_file_limit_is_raised_to_the_hard_one(server_with):
    server = server_with((200, 4096))
    assert _open_files_limit(server.proc.pid) == 4096


def test_running_out_of_descriptors_is_a_clear_503_and_new_connections_fail_fast(server_with):
    server = server_with((64, 64))
    client = server.client()
    for n in range(64):
        try:
            _create(client, f"t{n}")
        except OTSServiceError as e:
            assert (e.get_http_status(), e.get_error_code()) == (503, "OTSServerUnavailable")
            assert "open file limit" in e.get_error_message()
            break
    else:
        pytest.fail("64 tables fitted in 64 descriptors")
    assert n > 0, "not even one table could be created"

    # Idle connections fill the remaining descriptors and the backlog behind them.
    host, port = server.endpoint[len("http://"):].split(":")
    idle = [socket.create_connection((host, int(port))) for _ in range(80)]
    try:
        time.sleep(0.3)
        started = time.monotonic()
        with pytest.raises(Exception):
            server.client(instance="other").list_table()
        assert time.monotonic() - started < 5, "a new connection waited instead of failing"
        assert client.list_table(), "an open connection stopped working"
    finally:
        for s in idle:
            s.close()
    time.sleep(0.3)
    assert server.client(instance="other").list_table() == ()
