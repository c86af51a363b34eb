#!/usr/bin/env bash
# Runs every test of otsd on a fresh machine: it installs what the tests need (a Python
# virtualenv with the official Tablestore SDK and pytest, Node.js with the official Node SDK),
# builds otsd, runs the Rust unit, property, crash and integration tests, then drives the real
# server with the Python SDK (and, from pytest, the Node SDK and the community Rust SDK).
# Usage: ./tests/run-all.sh            (README and .ci/run call exactly this)
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TERM_COLOR=never
VENV="${OTSD_TEST_VENV:-target/sdk-venv}"

step() { printf '\n==> %s\n' "$*"; }

step "Python virtualenv with the official SDK ($VENV)"
if [ ! -x "$VENV/bin/python" ]; then
  if ! python3 -m venv "$VENV"; then
    # Debian's python3 ships venv separately.
    apt-get update -qq && apt-get install -y -qq python3-venv python3-pip
    rm -rf "$VENV"
    python3 -m venv "$VENV"
  fi
fi
"$VENV/bin/pip" install --quiet --disable-pip-version-check -r tests/sdk/requirements.txt

step "Node.js with the official SDK (tests/node)"
if ! command -v npm >/dev/null 2>&1; then
  apt-get update -qq && apt-get install -y -qq nodejs npm
fi
npm install --prefix tests/node --no-audit --no-fund --silent

step "Build otsd (debug)"
cargo build --bins

step "Community Rust SDK check (tests/rust_sdk, its own crate and lock file)"
CARGO_TARGET_DIR=target/rust-sdk cargo build --locked --manifest-path tests/rust_sdk/Cargo.toml

step "Rust tests: unit, property, crash, corruption, HTTP integration"
set +e
cargo test --no-fail-fast 2>&1 | tee target/rust-tests.log
rust_status=${PIPESTATUS[0]}
set -e
if [ "$rust_status" -ne 0 ]; then
  echo "Rust tests FAILED (exit $rust_status); see target/rust-tests.log" >&2
fi

step "Python SDK tests against the real server"
set +e
OTSD_BIN="$PWD/target/debug/otsd" "$VENV/bin/python" -m pytest tests/sdk -q -p no:cacheprovider
py_status=$?
set -e

# pytest's summary stays the last line; a Rust failure still fails the run.
if [ "$rust_status" -ne 0 ]; then
  exit "$rust_status"
fi
exit "$py_status"
