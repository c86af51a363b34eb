#!/usr/bin/env bash
# rustc wrapper (build.rustc-wrapper in .cargo/config.toml): optimised builds get the
# profile pgo/otsd.profdata (`-Cprofile-use`) with an absolute path, since cargo runs rustc
# for dependencies in their own directories. Left out: debug builds (no opt-level), builds
# that instrument (profile generation, sanitizers, coverage), a missing profile, and
# OTSD_NO_PGO=1.
# Usage (by cargo): pgo_rustc.sh <rustc> <args...>
rustc="$1"
shift
profile="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/pgo/otsd.profdata"
use=0
for arg in "$@"; do
  case "$arg" in
    opt-level=[123] | -Copt-level=[123]) use=1 ;;
    *profile-generate* | *profile-use* | *sanitizer* | *instrument-coverage*) use=0; break ;;
  esac
done
if [ "$use" = 1 ] && [ -f "$profile" ] && [ "${OTSD_NO_PGO:-0}" != 1 ]; then
  # Functions changed since the profile was taken are compiled without it; no warning each.
  exec "$rustc" "$@" "-Cprofile-use=$profile" -Cllvm-args=-no-pgo-warn-mismatch
fi
exec "$rustc" "$@"
