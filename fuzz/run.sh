#!/usr/bin/env bash
# Runs each fuzz target for N minutes, one after another, and prints one line
# per target: executions and what it found.
#
#   fuzz/run.sh N [TARGET...]      (all targets when none is named)
#
# Uses the nightly toolchain with AddressSanitizer when one is installed,
# else stable without a sanitizer (`-s none`, which stable builds). New inputs
# go to fuzz/corpus/TARGET, crashes to fuzz/artifacts/TARGET, logs to
# fuzz/logs/TARGET.log; the seeds in fuzz/seeds/TARGET (and, for the JSON
# bodies, src/ingest/testdata) are only read. Exits 1 if a target crashed.
set -euo pipefail
cd "$(dirname "$0")"

minutes=${1:?usage: fuzz/run.sh MINUTES [TARGET...]}
shift
command -v cargo-fuzz >/dev/null || { echo "needs cargo-fuzz: cargo install --locked cargo-fuzz" >&2; exit 2; }

if rustup run nightly rustc --version >/dev/null 2>&1; then
  fuzz=(cargo +nightly fuzz)
  sanitizer=()
else
  fuzz=(cargo fuzz)
  sanitizer=(-s none)
fi
# A CARGO_TARGET_DIR shared with ordinary builds would be rebuilt back and
# forth: the fuzz build has its own flags.
target_dir=()
if [ -n "${CARGO_TARGET_DIR:-}" ]; then target_dir=(--target-dir "$CARGO_TARGET_DIR/fuzz"); fi

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then mapfile -t targets < <("${fuzz[@]}" list); fi

mkdir -p logs
status=0
for t in "${targets[@]}"; do
  corpora=("corpus/$t" "seeds/$t")
  case $t in alertmanager | grafana | events_v1 | events_v2 | change_event) corpora+=(../src/ingest/testdata) ;; esac
  mkdir -p "corpus/$t"
  set +e
  # -timeout: an input that takes 10 s is a finding too (a request that hangs a worker).
  "${fuzz[@]}" run "${sanitizer[@]}" "${target_dir[@]}" "$t" "${corpora[@]}" -- \
    -max_total_time=$((minutes * 60)) -timeout=10 -print_final_stats=1 >"logs/$t.log" 2>&1
  rc=$?
  set -e
  execs=$(awk '/^stat::number_of_executed_units/ { print $NF }' "logs/$t.log" | tail -1)
  if [ $rc -eq 0 ]; then found="nothing"; else found="CRASH, see fuzz/logs/$t.log and fuzz/artifacts/$t/"; status=1; fi
  printf '%-14s %12s executions  %s\n' "$t" "${execs:-?}" "$found"
done
exit $status
