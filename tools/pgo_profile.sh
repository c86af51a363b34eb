#!/usr/bin/env bash
# Regenerates pgo/otsd.profdata, the profile optimised builds of otsd use (`-Cprofile-use`,
# added by tools/pgo_rustc.sh, the rustc wrapper of .cargo/config.toml): builds an instrumented otsd, runs the workloads
# the benchmarks measure against it (wrk PutRow and GetRow, the IM fan-out and its sync
# reads, 20-row GetRange pages, single-row and batch writes), the instrumented binary being
# both server and load generator, then merges what they recorded.
# Run it after changes to the request path or the engine: functions changed since the
# profile was taken are compiled without it (silently), the rest keep it.
# Needs wrk (Debian package) and rustup's llvm-tools component (for llvm-profdata).
# Usage: tools/pgo_profile.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PORT=18950
WORK="$(mktemp -d)"
RAW="$WORK/raw"
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT

command -v wrk > /dev/null || { echo "wrk not found (apt-get install wrk)" >&2; exit 1; }
PROFDATA="$(rustc --print sysroot)/lib/rustlib/$(rustc -vV | awk '/^host:/ {print $2}')/bin/llvm-profdata"
[ -x "$PROFDATA" ] || rustup component add llvm-tools
[ -x "$PROFDATA" ] || { echo "llvm-profdata not found at $PROFDATA" >&2; exit 1; }

# The wrapper adds no profile to a build that generates one.
RUSTFLAGS="-Cprofile-generate=$RAW" \
  cargo build --release --quiet --bin otsd --bin wrk_script --target-dir target/pgo-generate
# Build scripts of the instrumented build wrote profiles too: only the runs below count.
rm -rf "$RAW"
OTSD=target/pgo-generate/release/otsd
WRK_SCRIPT=target/pgo-generate/release/wrk_script

"$OTSD" serve --listen "127.0.0.1:$PORT" --data-dir "$WORK/data" --log warn > "$WORK/otsd.log" 2>&1 &
SERVER=$!
ep="http://127.0.0.1:$PORT"
for _ in $(seq 100); do curl -fs "$ep/health" > /dev/null && break; sleep 0.1; done

"$WRK_SCRIPT" --api PutRow --keys 10000 --create-table --endpoint "$ep" -o "$WORK/put.lua"
"$WRK_SCRIPT" --api GetRow --keys 10000 -o "$WORK/get.lua"
wrk -t2 -c64 -d8s -s "$WORK/put.lua" "$ep" | grep Requests/sec
wrk -t2 -c64 -d8s -s "$WORK/get.lua" "$ep" | grep Requests/sec
"$OTSD" im bench --endpoint "$ep" --users 1000 --group-size 100 --concurrency 16 --duration 10s \
  2> /dev/null | tail -n 3
"$OTSD" bench --endpoint "$ep" --table range --op range --prefill --rows 100000 --value-size 22 \
  --batch-size 20 --duration 1s --concurrency 32 > /dev/null 2>&1
for op in range put batch-write get; do
  table=mixed
  [ "$op" = range ] && table=range
  "$OTSD" bench --endpoint "$ep" --table "$table" --op "$op" --batch-size 20 --rows 100000 \
    --duration 4s --concurrency 32 2> /dev/null | grep throughput
done
# A clean shutdown writes the server's profile.
kill -TERM "$SERVER"
wait "$SERVER"

mkdir -p pgo
"$PROFDATA" merge --sparse -o pgo/otsd.profdata "$RAW"
ls -l pgo/otsd.profdata
echo "The next release build of otsd uses it; 'cargo clean --release' first rebuilds the dependencies with it too."
