"""Drives the test server through the official Tablestore Node SDK (5.6.5, installed into
tests/node by tests/run-all.sh). Each script in tests/node asserts every answer itself, prints one
line per step, and must print OK; scripts use instance names of their own, so they share the
session's server without colliding."""

import os
import shutil
import subprocess

import pytest

_REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_NODE_DIR = os.path.join(_REPO, "tests", "node")

# Script → what it covers (the script's header says more).
SCRIPTS = [
    "tables.js",        # create/describe/update/list/delete table, table errors
    "rows.js",          # every value type, timestamps, versions, time ranges, update ops
    "range.js",         # getRange both directions, paging, scan budget
    "conditions.js",    # column conditions on writes, filters on reads
    "batch.js",         # batchWriteRow / batchGetRow across tables, per-row errors
    "transactions.js",  # local transactions
    "indexes.js",       # secondary indexes: create/describe/maintain/read/drop, index errors
    "errors.js",        # auth, missing tables, invalid keys and cells, unsupported APIs
]


def _run_node(script, endpoint):
    node = shutil.which("node")
    assert node, "node is not installed: run tests/run-all.sh, which installs it"
    sdk = os.path.join(_NODE_DIR, "node_modules", "tablestore")
    assert os.path.isdir(sdk), "Node SDK missing: run tests/run-all.sh (npm install in tests/node)"
    env = dict(os.environ, OTSD_ENDPOINT=endpoint)
    done = subprocess.run(
        [node, script], cwd=_NODE_DIR, env=env,
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip().endswith("OK"), done.stdout


def test_the_official_node_sdk_works_unchanged_against_otsd(otsd_server):
    _run_node("sdk_smoke.js", otsd_server.endpoint)


@pytest.mark.parametrize("script", SCRIPTS)
def test_node_sdk_script(otsd_server, script):
    _run_node(script, otsd_server.endpoint)
