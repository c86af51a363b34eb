"""Runs examples/python/im_timeline.py (the Timeline model on the official SDK) against the
test server; the example checks its own results and must exit 0."""

import os
import subprocess
import sys

from conftest import ACCESS_KEY_ID, ACCESS_KEY_SECRET, INSTANCE

_REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_EXAMPLE = os.path.join(_REPO, "examples", "python", "im_timeline.py")


def test_im_timeline_example_runs_clean(otsd_server):
    result = subprocess.run(
        [sys.executable, _EXAMPLE, otsd_server.endpoint, INSTANCE, ACCESS_KEY_ID, ACCESS_KEY_SECRET],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "paged back correctly" in result.stdout


def test_im_timeline_example_reads_the_endpoint_from_the_environment(otsd_server):
    env = dict(os.environ, OTSD_ENDPOINT=otsd_server.endpoint, OTSD_INSTANCE="envinst")
    result = subprocess.run([sys.executable, _EXAMPLE], capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
