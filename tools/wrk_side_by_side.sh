#!/usr/bin/env bash
# Request-path benchmark: wrk with pre-signed PutRow and GetRow requests against otsd
# (fsync-per-commit default kept) beside a bare hyper server answering a fixed 100-byte
# reply. Single runs on a shared 2-core machine swing by ±20%, so the three workloads run
# interleaved for several rounds and the medians (and the ratios of medians) are reported.
# Each server's process CPU per request (µs of user+system time) is reported beside it: it
# moves far less than throughput between runs on shared cores.
# Needs `wrk` (Debian package).
# Usage: tools/wrk_side_by_side.sh [duration=10s] [connections=64] [rounds=3]
set -euo pipefail
cd "$(dirname "$0")/.."
. tools/side_by_side_common.sh
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
OTSD_PID=$!
"$BIN/hyper_baseline" --listen "127.0.0.1:$BASE_PORT" > "$WORK/base.log" 2>&1 &
BASE_PID=$!
sleep 1

ep="http://127.0.0.1:$OTSD_PORT"
"$BIN/wrk_script" --api PutRow --keys 10000 --create-table --endpoint "$ep" -o "$WORK/put.lua"
"$BIN/wrk_script" --api GetRow --keys 10000 -o "$WORK/get.lua"
"$BIN/wrk_script" --api PutRow --keys 10000 --target baseline -o "$WORK/base.lua"

# One wrk run against the server at $1 (pid $3) with script $2: prints "requests/s µs-of-CPU/request".
rps() {
  local t0 t1 out
  t0=$(cpu_ticks "$3")
  out=$(wrk -t2 -c"$CONNS" -d"$DUR" -s "$2" "$1")
  t1=$(cpu_ticks "$3")
  echo "$(echo "$out" | awk '/Requests\/sec/ {print $2}')" \
    "$(us_per_op "$t0" "$t1" "$(echo "$out" | awk '/requests in/ {print $1}')")"
}
non2xx() { wrk -t2 -c"$CONNS" -d2s -s "$2" "$1" | awk '/Non-2xx/ {print $NF}'; }

# Every key exists before the first measured GetRow.
rps "$ep" "$WORK/put.lua" "$OTSD_PID" > /dev/null
bases="" puts="" gets="" c_bases="" c_puts="" c_gets=""
for round in $(seq "$ROUNDS"); do
  read -r base c_base < <(rps "http://127.0.0.1:$BASE_PORT" "$WORK/base.lua" "$BASE_PID")
  read -r put c_put < <(rps "$ep" "$WORK/put.lua" "$OTSD_PID")
  read -r get c_get < <(rps "$ep" "$WORK/get.lua" "$OTSD_PID")
  printf 'round %d: baseline %.0f (%s us CPU/req), PutRow %.0f (%s), GetRow %.0f (%s)\n' \
    "$round" "$base" "$c_base" "$put" "$c_put" "$get" "$c_get"
  bases="$bases $base" puts="$puts $put" gets="$gets $get"
  c_bases="$c_bases $c_base" c_puts="$c_puts $c_put" c_gets="$c_gets $c_get"
done
bad=$(non2xx "$ep" "$WORK/get.lua")

base=$(echo "$bases" | median) put=$(echo "$puts" | median) get=$(echo "$gets" | median)
c_base=$(echo "$c_bases" | median) c_put=$(echo "$c_puts" | median) c_get=$(echo "$c_gets" | median)
echo "medians of $ROUNDS rounds:"
printf 'hyper_baseline : %10.0f requests/sec             %6s us server CPU/request\n' "$base" "$c_base"
printf 'otsd PutRow    : %10.0f requests/sec  ratio %s  %6s us server CPU/request\n' "$put" "$(ratio "$put" "$base")" "$c_put"
printf 'otsd GetRow    : %10.0f requests/sec  ratio %s  %6s us server CPU/request\n' "$get" "$(ratio "$get" "$base")" "$c_get"
[ -z "$bad" ] || echo "warning: $bad non-2xx responses in a GetRow check run"
