"""Runs tests/rust_sdk, which drives the test server through the community Rust SDK
`aliyun-tablestore-rs` (0.1.3, built by tests/run-all.sh into target/rust-sdk): table
operations, every row operation and value type, conditions, filters (a regex one too), paging,
batches, auto-increment, errors and secondary indexes (CreateTable with an index, CreateIndex back-filling,
DescribeTable, base writes read back through the indexes, writes to an index refused, DropIndex,
DeleteTable). The program asserts every answer itself and must print OK."""

import os
import subprocess

_REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_CHECK = os.path.join(_REPO, "target", "rust-sdk", "debug", "otsd-rust-sdk-check")


def test_the_community_rust_sdk_works_unchanged_against_otsd(otsd_server):
    assert os.path.exists(_CHECK), (
        "Rust SDK check not built: run tests/run-all.sh "
        "(cargo build --manifest-path tests/rust_sdk/Cargo.toml)"
    )
    env = dict(os.environ, OTSD_ENDPOINT=otsd_server.endpoint)
    done = subprocess.run([_CHECK], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip().endswith("OK"), done.stdout
