"""Runs tests/node/sdk_smoke.js, which drives the test server through the official Tablestore
Node SDK (5.6.5, installed into tests/node by tests/run-all.sh); the script asserts every
answer itself and must print OK."""

import os
import shutil
import subprocess

_REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_NODE_DIR = os.path.join(_REPO, "tests", "node")


def test_the_official_node_sdk_works_unchanged_against_otsd(otsd_server):
    node = shutil.which("node")
    assert node, "node is not installed: run tests/run-all.sh, which installs it"
    sdk = os.path.join(_NODE_DIR, "node_modules", "tablestore")
    assert os.path.isdir(sdk), "Node SDK missing: run tests/run-all.sh (npm install in tests/node)"
    env = dict(os.environ, OTSD_ENDPOINT=otsd_server.endpoint)
    done = subprocess.run(
        [node, "sdk_smoke.js"], cwd=_NODE_DIR, env=env,
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip().endswith("OK"), done.stdout
