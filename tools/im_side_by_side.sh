#!/usr/bin/env bash
# IM benchmark side by side with Redis streams, on the same machine and cores:
#   fan-out: otsd durable member-writes/s (`otsd im bench`) against Redis 7 XADD with
#            appendfsync everysec, unpipelined and pipelined (64 clients);
#   sync:    otsd 20-row GetRange pages/s against Redis XREVRANGE ... COUNT 20 (64 clients
#            each, the same 22-byte payload per entry). otsd's pages are read twice: by wrk
#            replaying 10,000 pre-signed GetRange requests (tools/wrk_script.rs), a C load
#            generator like redis-benchmark, and by `otsd bench --op range`, whose Rust client
#            also checks each response's MD5 and signature and decodes every row.
# Single runs on a shared 2-core machine swing by ±20%, so Redis and otsd take turns for
# several rounds and the medians (and ratios of medians) are reported. Each server's process
# CPU per operation is reported too (µs of user+system time per XADD entry, member-write or
# page): it moves far less than throughput between runs on shared cores. otsd's flushes and
# compactions after the fan-out are waited for and counted in the fan-out's CPU, so the pages
# are read on an idle server, as Redis's are.
# The fan-out is also run against a second otsd that fsyncs its logs once a second
# (`--wal-sync 1000ms`), the durability of Redis's appendfsync everysec: the comparison at
# equal durability beside the one at otsd's default, an fsync before every acknowledgement.
# Needs redis-server and redis-benchmark (Debian package redis-server) and wrk.
# Usage: tools/im_side_by_side.sh [im-bench-duration=15s] [rounds=3]
set -euo pipefail
cd "$(dirname "$0")/.."
. tools/side_by_side_common.sh
DUR="${1:-15s}"
ROUNDS="${2:-3}"
OTSD_PORT=18811
EVERYSEC_PORT=18812
REDIS_PORT=16391
WORK="$(mktemp -d)"
cleanup() {
  redis-cli -p "$REDIS_PORT" shutdown nosave > /dev/null 2>&1 || true
  kill $(jobs -p) 2> /dev/null || true
  wait 2> /dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

command -v redis-server > /dev/null || { echo "redis-server not found (apt-get install redis-server)" >&2; exit 1; }
command -v wrk > /dev/null || { echo "wrk not found (apt-get install wrk)" >&2; exit 1; }
cargo build --release --quiet --bin otsd --bin wrk_script
OTSD=target/release/otsd

# Redis: requests/s of one redis-benchmark run (the last progress line holds the total).
redis_rps() {
  redis-benchmark -p "$REDIS_PORT" -q -c 64 -r 1000 "$@" | tr '\r' '\n' \
    | awk '/requests per second/ {for (i = 1; i <= NF; i++) if ($(i + 1) == "requests") print $i}' | tail -n 1
}
# Waits until process $1 has used under 2% of a core for a whole second (at most 120 s);
# prints the seconds waited.
wait_idle() {
  local waited=0 before after
  while [ "$waited" -lt 120 ]; do
    before=$(cpu_ticks "$1"); sleep 1; after=$(cpu_ticks "$1")
    waited=$((waited + 1))
    [ $(((after - before) * 50)) -lt "$HZ" ] && break
  done
  echo "$waited"
}
json_field() { python3 -c "import json,sys; print(round(json.load(sys.stdin)['$1']))"; }

redis-server --port "$REDIS_PORT" --dir "$WORK" --save "" --appendonly yes \
  --appendfsync everysec > "$WORK/redis.log" 2>&1 &
REDIS_PID=$!
for _ in $(seq 50); do redis-cli -p "$REDIS_PORT" ping > /dev/null 2>&1 && break; sleep 0.1; done
"$OTSD" serve --listen "127.0.0.1:$OTSD_PORT" --data-dir "$WORK/otsd" --log warn > "$WORK/otsd.log" 2>&1 &
OTSD_PID=$!
"$OTSD" serve --listen "127.0.0.1:$EVERYSEC_PORT" --data-dir "$WORK/otsd-everysec" --log warn \
  --wal-sync 1000ms > "$WORK/otsd-everysec.log" 2>&1 &
EVERYSEC_PID=$!
ep="http://127.0.0.1:$OTSD_PORT"
ep_everysec="http://127.0.0.1:$EVERYSEC_PORT"
for e in "$ep" "$ep_everysec"; do
  for _ in $(seq 50); do curl -fs "$e/health" > /dev/null 2>&1 && break; sleep 0.1; done
done
# The range table holds 100,000 rows whose one value has the XADD entries' 22 bytes, each
# written once (--prefill) as the messages of a sync queue are: a Timeline row is appended
# under a new sequence id and never rewritten, like a stream entry.
"$OTSD" bench --endpoint "$ep" --table range --op range --prefill --rows 100000 \
  --value-size 22 --batch-size 20 --duration 1s --concurrency 32 > /dev/null 2>&1

# Fan-out against the server at $1 (pid $2): prints "member-writes/s server-CPU-us/op idle-wait-s".
fan_out() {
  local o0 o1 im settled writes
  o0=$(cpu_ticks "$2")
  im=$("$OTSD" im bench --endpoint "$1" --users 1000 --group-size 100 --concurrency 16 \
    --duration "$DUR" --json 2> /dev/null | tail -n 1)
  # The flushes and compactions the fan-out leaves behind are its cost: they are charged to
  # it, and the pages are read once they are done instead of beside them.
  settled=$(wait_idle "$2")
  o1=$(cpu_ticks "$2")
  # Member-writes done = messages x group size; the syncs of the run are charged to them too.
  writes=$(echo "$im" | python3 -c "import json,sys; d=json.load(sys.stdin); print(d['messages'] * d['group_size'])")
  echo "$(echo "$im" | json_field member_writes_per_sec) $(us_per_op "$o0" "$o1" "$writes") $settled"
}

# 20-row pages from random start keys, replayed by wrk against the server at $1 (pid $2):
# prints "pages/s server-CPU-us/page non-2xx-responses". The script is signed anew each
# round (a signature is good for 15 minutes).
wrk_pages() {
  local o0 o1 out
  target/release/wrk_script --api GetRange --table range --keys 10000 --key-space 100000 \
    --limit 20 -o "$WORK/pages.lua"
  o0=$(cpu_ticks "$2")
  out=$(wrk -t2 -c64 -d10s -s "$WORK/pages.lua" "$1")
  o1=$(cpu_ticks "$2")
  echo "$(echo "$out" | awk '/Requests\/sec/ {print $2}')" \
    "$(us_per_op "$o0" "$o1" "$(echo "$out" | awk '/requests in/ {print $1}')")" \
    "$(echo "$out" | awk '/Non-2xx/ {n = $NF} END {print n + 0}')"
}

xadds="" xadd_ps="" xrevs="" fanouts="" fanouts_es="" pages_all="" wpages_all=""
c_xadds="" c_xadd_ps="" c_xrevs="" c_fanouts="" c_fanouts_es="" c_pages="" c_wpages=""
bad_pages=0
for round in $(seq "$ROUNDS"); do
  t0=$(cpu_ticks "$REDIS_PID")
  xadd=$(redis_rps -n 200000 XADD 'im:__rand_int__' '*' body hello-world-0123456789)
  t1=$(cpu_ticks "$REDIS_PID")
  xadd_p=$(redis_rps -n 1000000 -P 16 XADD 'im:__rand_int__' '*' body hello-world-0123456789)
  t2=$(cpu_ticks "$REDIS_PID")
  xrev=$(redis_rps -n 200000 XREVRANGE 'im:__rand_int__' + - COUNT 20)
  t3=$(cpu_ticks "$REDIS_PID")
  c_xadd=$(us_per_op "$t0" "$t1" 200000) c_xadd_p=$(us_per_op "$t1" "$t2" 1000000)
  c_xrev=$(us_per_op "$t2" "$t3" 200000)

  read -r fanout c_fanout settled < <(fan_out "$ep" "$OTSD_PID")
  read -r fanout_es c_fanout_es _ < <(fan_out "$ep_everysec" "$EVERYSEC_PID")
  o1=$(cpu_ticks "$OTSD_PID")
  range_out=$("$OTSD" bench --endpoint "$ep" --table range --op range --batch-size 20 --rows 100000 \
    --duration 10s --concurrency 64 2> /dev/null)
  o2=$(cpu_ticks "$OTSD_PID")
  pages=$(echo "$range_out" | awk '/^throughput:/ {print $2}')
  c_page=$(us_per_op "$o1" "$o2" "$(echo "$range_out" | awk '/^requests:/ {print $2}')")
  read -r wpages c_wpage bad < <(wrk_pages "$ep" "$OTSD_PID")
  bad_pages=$((bad_pages + bad))

  printf 'round %d: XADD %.0f, XADD -P 16 %.0f, fan-out %.0f (fsync each second: %.0f), XREVRANGE %.0f, pages %.0f (wrk %.0f)\n' \
    "$round" "$xadd" "$xadd_p" "$fanout" "$fanout_es" "$xrev" "$pages" "$wpages"
  printf '  server CPU us/op: XADD %s, XADD -P 16 %s, fan-out %s (%s), XREVRANGE %s, pages %s (wrk %s)\n' \
    "$c_xadd" "$c_xadd_p" "$c_fanout" "$c_fanout_es" "$c_xrev" "$c_page" "$c_wpage"
  printf '  otsd idle again within %s s of the fan-out\n' "$settled"
  xadds="$xadds $xadd" xadd_ps="$xadd_ps $xadd_p" xrevs="$xrevs $xrev"
  fanouts="$fanouts $fanout" fanouts_es="$fanouts_es $fanout_es" pages_all="$pages_all $pages"
  wpages_all="$wpages_all $wpages" c_wpages="$c_wpages $c_wpage"
  c_xadds="$c_xadds $c_xadd" c_xadd_ps="$c_xadd_ps $c_xadd_p" c_xrevs="$c_xrevs $c_xrev"
  c_fanouts="$c_fanouts $c_fanout" c_fanouts_es="$c_fanouts_es $c_fanout_es" c_pages="$c_pages $c_page"
done
xadd=$(echo "$xadds" | median) xadd_p=$(echo "$xadd_ps" | median) xrev=$(echo "$xrevs" | median)
fanout=$(echo "$fanouts" | median) fanout_es=$(echo "$fanouts_es" | median)
pages=$(echo "$pages_all" | median) wpages=$(echo "$wpages_all" | median)

echo "medians of $ROUNDS rounds:"
printf '%-44s %12s %16s\n' "workload" "per second" "server CPU us/op"
row() { printf '%-44s %12.0f %16s' "$1" "$2" "$(echo "$3" | median)"; }
row "Redis XADD, everysec, unpipelined" "$xadd" "$c_xadds"; echo
row "Redis XADD, everysec, pipelined (-P 16)" "$xadd_p" "$c_xadd_ps"; echo
row "otsd fan-out member-writes, fsync per commit" "$fanout" "$c_fanouts"
printf '   %s x pipelined Redis (target 2.00)\n' "$(ratio "$fanout" "$xadd_p")"
row "otsd fan-out member-writes, fsync each second" "$fanout_es" "$c_fanouts_es"
printf '   %s x pipelined Redis, at its durability\n' "$(ratio "$fanout_es" "$xadd_p")"
row "Redis XREVRANGE COUNT 20" "$xrev" "$c_xrevs"; echo
row "otsd GetRange 20-row pages, wrk" "$wpages" "$c_wpages"
printf '   %s x Redis (target 1.00)\n' "$(ratio "$wpages" "$xrev")"
row "otsd GetRange 20-row pages, otsd bench" "$pages" "$c_pages"
printf '   %s x Redis\n' "$(ratio "$pages" "$xrev")"
[ "$bad_pages" -eq 0 ] || echo "warning: $bad_pages non-2xx responses in the wrk page runs"
