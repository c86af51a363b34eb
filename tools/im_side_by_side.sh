#!/usr/bin/env bash
# IM benchmark side by side with Redis streams, on the same machine and cores:
#   fan-out: otsd durable member-writes/s (`otsd im bench`) against Redis 7 XADD with
#            appendfsync everysec, unpipelined and pipelined (64 clients);
#   sync:    otsd 20-row GetRange pages/s (`otsd bench --op range`) against Redis
#            XREVRANGE ... COUNT 20 (64 clients).
# Needs redis-server and redis-benchmark (Debian package redis-server).
# Usage: tools/im_side_by_side.sh [im-bench-duration=15s]
set -euo pipefail
cd "$(dirname "$0")/.."
DUR="${1:-15s}"
OTSD_PORT=18811
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
cargo build --release --quiet --bin otsd
OTSD=target/release/otsd

# Redis: requests/s of one redis-benchmark run (the last progress line holds the total).
redis_rps() {
  redis-benchmark -p "$REDIS_PORT" -q -c 64 -r 1000 "$@" | tr '\r' '\n' \
    | awk '/requests per second/ {for (i = 1; i <= NF; i++) if ($(i + 1) == "requests") print $i}' | tail -n 1
}
redis-server --port "$REDIS_PORT" --dir "$WORK" --save "" --appendonly yes \
  --appendfsync everysec > "$WORK/redis.log" 2>&1 &
for _ in $(seq 50); do redis-cli -p "$REDIS_PORT" ping > /dev/null 2>&1 && break; sleep 0.1; done
xadd=$(redis_rps -n 200000 XADD 'im:__rand_int__' '*' body hello-world-0123456789)
xadd_p=$(redis_rps -n 1000000 -P 16 XADD 'im:__rand_int__' '*' body hello-world-0123456789)
xrev=$(redis_rps -n 200000 XREVRANGE 'im:__rand_int__' + - COUNT 20)
redis-cli -p "$REDIS_PORT" shutdown nosave > /dev/null 2>&1 || true

# otsd: fan-out on a fresh server, then range pages on a freshly prefilled table.
"$OTSD" serve --listen "127.0.0.1:$OTSD_PORT" --data-dir "$WORK/otsd" --log warn > "$WORK/otsd.log" 2>&1 &
ep="http://127.0.0.1:$OTSD_PORT"
for _ in $(seq 50); do curl -fs "$ep/health" > /dev/null 2>&1 && break; sleep 0.1; done
json_field() { python3 -c "import json,sys; print(round(json.load(sys.stdin)['$1']))"; }
fanout=$("$OTSD" im bench --endpoint "$ep" --users 1000 --group-size 100 --concurrency 16 \
  --duration "$DUR" --json 2> /dev/null | tail -n 1 | json_field member_writes_per_sec)
"$OTSD" bench --endpoint "$ep" --table range --op put --rows 100000 --duration 8s \
  --concurrency 32 > /dev/null 2>&1
pages=$("$OTSD" bench --endpoint "$ep" --table range --op range --batch-size 20 --rows 100000 \
  --duration 10s --concurrency 16 2> /dev/null | awk '/^throughput:/ {print $2}')

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
printf '%-44s %12s\n' "workload" "per second"
printf '%-44s %12.0f\n' "Redis XADD, everysec, unpipelined" "$xadd"
printf '%-44s %12.0f\n' "Redis XADD, everysec, pipelined (-P 16)" "$xadd_p"
printf '%-44s %12.0f   %s x pipelined Redis (target 2.00)\n' "otsd fan-out member-writes, fsync per commit" \
  "$fanout" "$(ratio "$fanout" "$xadd_p")"
printf '%-44s %12.0f\n' "Redis XREVRANGE COUNT 20" "$xrev"
printf '%-44s %12.0f   %s x Redis (target 1.00)\n' "otsd GetRange 20-row pages" "$pages" \
  "$(ratio "$pages" "$xrev")"
