#!/usr/bin/env bash
# Request-path benchmark: wrk with pre-signed PutRow and GetRow requests against otsd
# (fsync-per-commit default kept) beside a bare hyper server answering a fixed 100-byte
# reply. Prints requests/s of each and the ratio. Needs `wrk` (Debian package).
# Usage: tools/wrk_side_by_side.sh [duration=10s] [connections=64]
set -euo pipefail
cd "$(dirname "$0")/.."
DUR="${1:-10s}"
CONNS="${2:-64}"
OTSD_PORT=18801
BASE_PORT=18802
WORK="$(mktemp -d)"
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT

cargo build --release --quiet --bin otsd --bin hyper_baseline --bin wrk_script
BIN=target/release

"$BIN/otsd" serve --listen "127.0.0.1:$OTSD_PORT" --data-dir "$WORK/data" --log warn > "$WORK/otsd.log" 2>&1 &
"$BIN/hyper_baseline" --listen "127.0.0.1:$BASE_PORT" > "$WORK/base.log" 2>&1 &
sleep 1

ep="http://127.0.0.1:$OTSD_PORT"
"$BIN/wrk_script" --api PutRow --keys 10000 --create-table --endpoint "$ep" -o "$WORK/put.lua"
"$BIN/wrk_script" --api GetRow --keys 10000 -o "$WORK/get.lua"
"$BIN/wrk_script" --api PutRow --keys 10000 --target baseline -o "$WORK/base.lua"

rps() { wrk -t2 -c"$CONNS" -d"$DUR" -s "$2" "$1" | awk '/Requests\/sec/ {print $2}'; }
non2xx() { wrk -t2 -c"$CONNS" -d2s -s "$2" "$1" | awk '/Non-2xx/ {print $NF}'; }

put=$(rps "$ep" "$WORK/put.lua")
get=$(rps "$ep" "$WORK/get.lua")
base=$(rps "http://127.0.0.1:$BASE_PORT" "$WORK/base.lua")
bad=$(non2xx "$ep" "$WORK/get.lua")

printf 'hyper_baseline : %10.0f requests/sec\n' "$base"
printf 'otsd PutRow    : %10.0f requests/sec  ratio %.2f\n' "$put" "$(awk -v a="$put" -v b="$base" 'BEGIN{print a/b}')"
printf 'otsd GetRow    : %10.0f requests/sec  ratio %.2f\n' "$get" "$(awk -v a="$get" -v b="$base" 'BEGIN{print a/b}')"
[ -z "$bad" ] || echo "warning: $bad non-2xx responses in a GetRow check run"
