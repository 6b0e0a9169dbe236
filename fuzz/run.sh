#!/usr/bin/env bash
# Runs every fuzz target for a fixed time (default 60 s each) with its corpus in
# fuzz/corpus/<target> (kept in the repository), and prints executions and time per target.
# Installs cargo-fuzz (pinned) with the nightly toolchain it needs.
#
#   bash fuzz/run.sh            # every target, 60 s each
#   bash fuzz/run.sh 300 tftp_packet
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-60}
shift || true
CARGO_FUZZ_VERSION=0.13.2
if ! cargo +nightly fuzz --version 2>/dev/null | grep -q "$CARGO_FUZZ_VERSION"; then
  cargo +nightly install --locked cargo-fuzz --version "$CARGO_FUZZ_VERSION"
fi
targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(cargo +nightly fuzz list)
for target in "${targets[@]}"; do
  mkdir -p "corpus/$target"
  log=$(mktemp)
  start=$SECONDS
  # -timeout: one input taking longer than this is a finding (a hang), not a slow run.
  if cargo +nightly fuzz run "$target" "corpus/$target" -- \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1; then
    outcome=ok
  else
    outcome="FAILED (artifacts in fuzz/artifacts/$target)"
  fi
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)
  printf '%-18s %s: %s executions in %s s, corpus %s files\n' "$target" "$outcome" \
    "${execs:-?}" "$((SECONDS - start))" "$(find "corpus/$target" -type f | wc -l)"
  [ "$outcome" = ok ] || tail -n 40 "$log"
  rm -f "$log"
done
