#!/usr/bin/env bash
# Request-path benchmark: wrk with pre-signed PutRow and GetRow requests against otsd
# (fsync-per-commit default kept) beside a bare hyper server answering a fixed 100-byte
# reply. Single runs on a shared 2-core machine swing by ±20%, so the three workloads run
# interleaved for several rounds and the medians (and the ratios of medians) are reported.
# Needs `wrk` (Debian package).
# Usage: tools/wrk_side_by_side.sh [duration=10s] [connections=64] [rounds=3]
set -euo pipefail
cd "$(dirname "$0")/.."
DUR="${1:-10s}"
CONNS="${2:-64}"
ROUNDS="${3:-3}"
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
median() { tr ' ' '\n' | grep . | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }

# Every key exists before the first measured GetRow.
rps "$ep" "$WORK/put.lua" > /dev/null
bases="" puts="" gets=""
for round in $(seq "$ROUNDS"); do
  base=$(rps "http://127.0.0.1:$BASE_PORT" "$WORK/base.lua")
  put=$(rps "$ep" "$WORK/put.lua")
  get=$(rps "$ep" "$WORK/get.lua")
  printf 'round %d: baseline %.0f, PutRow %.0f, GetRow %.0f\n' "$round" "$base" "$put" "$get"
  bases="$bases $base" puts="$puts $put" gets="$gets $get"
done
bad=$(non2xx "$ep" "$WORK/get.lua")

base=$(echo "$bases" | median) put=$(echo "$puts" | median) get=$(echo "$gets" | median)
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
echo "medians of $ROUNDS rounds:"
printf 'hyper_baseline : %10.0f requests/sec\n' "$base"
printf 'otsd PutRow    : %10.0f requests/sec  ratio %s\n' "$put" "$(ratio "$put" "$base")"
printf 'otsd GetRow    : %10.0f requests/sec  ratio %s\n' "$get" "$(ratio "$get" "$base")"
[ -z "$bad" ] || echo "warning: $bad non-2xx responses in a GetRow check run"
