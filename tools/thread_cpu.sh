#!/usr/bin/env bash
# CPU and context switches of a running process's threads over a window, summed by thread name:
# which part of otsd (connection workers, a table's committer, flush and compaction, ...) spends
# the CPU of a workload. Run it while the load runs, e.g. beside `otsd im bench`:
#   tools/thread_cpu.sh "$(pgrep -f 'otsd serve')" 4
# Columns: user and system CPU in ms, voluntary context switches (the thread waited: a lock,
# a condition variable, I/O such as fdatasync) and involuntary ones (it was preempted).
# Threads that start or end inside the window are left out.
# Usage: tools/thread_cpu.sh <pid> [seconds=4]
set -euo pipefail
PID="${1:?usage: tools/thread_cpu.sh <pid> [seconds]}"
SECS="${2:-4}"
[ -d "/proc/$PID/task" ] || { echo "no process $PID" >&2; exit 1; }
HZ=$(getconf CLK_TCK)

# One line per thread: tid name utime stime voluntary involuntary (spaces in names become _).
snapshot() {
  local t name times switches
  for t in /proc/"$PID"/task/*; do
    # A thread may end between listing and reading: skip it.
    name=$(tr ' ' '_' < "$t/comm" 2> /dev/null) || continue
    times=$(awk '{print $14, $15}' "$t/stat" 2> /dev/null) || continue
    switches=$(awk '/^voluntary_ctxt_switches/ {v = $2} /^nonvoluntary_ctxt_switches/ {n = $2}
      END {print v, n}' "$t/status" 2> /dev/null) || continue
    echo "${t##*/} $name $times $switches"
  done | awk 'NF == 6' | sort -k1,1
}

before=$(snapshot)
sleep "$SECS"
after=$(snapshot)
# Per name: total ms, then the printed row; sorted by total, busiest first.
rows=$(join <(echo "$before") <(echo "$after") | awk -v hz="$HZ" '
  {
    n = $2; threads[n]++
    user[n] += ($8 - $3) * 1000 / hz; sys[n] += ($9 - $4) * 1000 / hz
    vol[n] += $10 - $5; invol[n] += $11 - $6
  }
  END {
    for (n in user) {
      if (user[n] + sys[n] + vol[n] + invol[n] == 0) continue
      printf "%.0f\t%-18s %7d %9.0f %9.0f %10d %10d\n", user[n] + sys[n], n, threads[n],
        user[n], sys[n], vol[n], invol[n]
    }
  }' | sort -t$'\t' -k1,1nr)
total=$(echo "$rows" | awk -F'\t' '{s += $1} END {print s + 0}')
printf "%-18s %7s %9s %9s %10s %10s %7s\n" thread threads "user ms" "sys ms" "vol cs" "invol cs" share
echo "$rows" | awk -F'\t' -v total="$total" 'NF == 2 {
  printf "%s %6.1f%%\n", $2, (total > 0 ? $1 * 100 / total : 0) }'
awk -v t="$total" -v s="$SECS" 'BEGIN { printf "total %.0f ms of CPU in %s s: %.2f cores\n", t, s, t / 1000 / s }'
