# Helpers shared by the side-by-side benchmark scripts (sourced, not run).

# Median of whitespace-separated numbers on stdin.
median() { tr ' ' '\n' | grep . | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
# a / b with two decimals: ratio <a> <b>
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
HZ=$(getconf CLK_TCK)
# User + system CPU ticks used so far by process $1.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# µs of CPU per operation: us_per_op <ticks before> <ticks after> <operations>; "n/a" for none.
us_per_op() {
  awk -v t="$(($2 - $1))" -v hz="$HZ" -v n="${3:-0}" \
    'BEGIN { if (n > 0) printf "%.1f", t / hz / n * 1e6; else printf "n/a" }'
}
