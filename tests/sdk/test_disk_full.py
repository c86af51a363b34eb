"""A full disk, driven through the official Python SDK on a small tmpfs: writes are refused
with 503 OTSServerUnavailable while reads go on, writes resume without a restart once space
is freed, every acknowledged write survives a SIGKILL, and the server restarts on a full
disk.

Mounting the tmpfs needs root (CI runs as root); elsewhere the test is skipped and says so.
"""

import os
import shutil
import subprocess
import tempfile
import time

import pytest
from tablestore import (
    BatchWriteRowRequest,
    CapacityUnit,
    Condition,
    PutRowItem,
    ReservedThroughput,
    Row,
    TableInBatchWriteRowItem,
    TableMeta,
    TableOptions,
)
from tablestore.error import OTSServiceError

from conftest import OtsdServer

VALUE = "x" * 60_000  # a big cell fills the disk in a few hundred writes


def _run(*args):
    return subprocess.run(args, capture_output=True, text=True)


@pytest.fixture
def small_disk():
    """A 24 MiB tmpfs with 4 MiB taken by a filler file that the test can delete."""
    mount_point = tempfile.mkdtemp(prefix="otsd-small-disk-")
    mounted = _run("mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", mount_point)
    if mounted.returncode != 0:
        os.rmdir(mount_point)
        pytest.skip(f"cannot mount a tmpfs (needs root): {mounted.stderr.strip()}")
    with open(os.path.join(mount_point, "filler"), "wb") as f:
        f.write(b"\0" * (4 << 20))
    yield mount_point
    _run("umount", "-l", mount_point)
    shutil.rmtree(mount_point, ignore_errors=True)


def _put(client, key):
    client.put_row("t", Row([("k", key)], [("v", VALUE), ("i", key)]))


def _fill_until_refused(client, first_key):
    """Writes until the disk refuses; returns the acknowledged keys and the refusal."""
    acked = []
    for key in range(first_key, first_key + 2000):
        try:
            _put(client, key)
            acked.append(key)
        except OTSServiceError as e:
            return acked, e
    pytest.fail("2000 writes of 60 KB fitted on a 24 MiB disk")


def _fill_to_the_last_byte(path):
    """Takes whatever space is left, down to single bytes."""
    with open(path, "wb", buffering=0) as f:
        for size in (1 << 20, 4096, 1):
            try:
                while True:
                    f.write(b"\0" * size)
            except OSError:
                pass


def test_a_full_disk_refuses_writes_then_recovers_without_losing_any(small_disk):
    server = OtsdServer(
        os.path.join(small_disk, "data"), env={"OTSD_WRITE_BUFFER_MIB": "8"}
    ).start()
    try:
        client = server.client()
        client.create_table(
            TableMeta("t", [("k", "INTEGER")]), TableOptions(),
            ReservedThroughput(CapacityUnit(0, 0)),
        )
        acked, refusal = _fill_until_refused(client, 0)
        assert acked, "nothing fitted before the disk was full"
        assert (refusal.get_http_status(), refusal.get_error_code()) == (503, "OTSServerUnavailable")
        assert "out of disk space" in refusal.get_error_message()

        # Reads go on, and the refused write is not there.
        _, row, _ = client.get_row("t", [("k", acked[-1])], max_version=1)
        assert row is not None
        _, row, _ = client.get_row("t", [("k", len(acked))], max_version=1)
        assert row is None

        # A BatchWriteRow is refused row by row, in one answer, and stores nothing.
        batch = BatchWriteRowRequest()
        batch_keys = [5_000 + i for i in range(3)]
        batch.add(TableInBatchWriteRowItem("t", [
            PutRowItem(Row([("k", key)], [("v", VALUE), ("i", key)]), Condition("IGNORE"))
            for key in batch_keys
        ]))
        succeeded, failed = client.batch_write_row(batch).get_put()
        assert succeeded == [] and len(failed) == 3
        assert {r.error_code for r in failed} == {"OTSServerUnavailable"}
        for key in batch_keys:
            _, row, _ = client.get_row("t", [("k", key)], max_version=1)
            assert row is None

        # Freed space is used again without a restart (a failed flush retries each second).
        os.remove(os.path.join(small_disk, "filler"))
        deadline = time.monotonic() + 15
        resumed, _ = _fill_until_refused(client, 10_000)
        while not resumed and time.monotonic() < deadline:
            time.sleep(0.5)
            resumed, _ = _fill_until_refused(client, 10_000)
        assert resumed, "writes did not resume after space was freed"

        # Every acknowledged write survives a SIGKILL, and the restart needs no free space:
        # on a disk filled to the last byte the server starts, serves every row and refuses
        # writes until the disk has room again.
        server.kill()
        _fill_to_the_last_byte(os.path.join(small_disk, "last-bytes"))
        server.start()
        client = server.client()
        for key in acked + resumed:
            _, row, _ = client.get_row("t", [("k", key)], max_version=1)
            assert row is not None, f"acknowledged row {key} is gone"
            assert dict((c[0], c[1]) for c in row.attribute_columns)["i"] == key
        with pytest.raises(OTSServiceError) as refused:
            _put(client, 20_000)
        assert refused.value.get_http_status() == 503
        assert "out of disk space" in refused.value.get_error_message()
        assert _run("mount", "-o", "remount,size=64m", small_disk).returncode == 0
        _put(client, 20_000)
        _, row, _ = client.get_row("t", [("k", 20_000)], max_version=1)
        assert row is not None
    finally:
        server.kill()
