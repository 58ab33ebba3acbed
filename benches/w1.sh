#!/usr/bin/env bash
# Runs the W1 benchmark matrix of benches/RESULTS.md: every configuration three
# times, one JSON line per run, appended to benches/results/w1-<date>.jsonl.
# Usage: bash benches/w1.sh [extra spikeburn bench flags]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p spikeburn-cli --features ndarray
bin="${CARGO_TARGET_DIR:-target}/release/spikeburn"
out="benches/results/w1-$(date +%Y-%m-%d).jsonl"
run() { for _ in 1 2 3; do "$bin" bench "$@" "${extra[@]}" >> "$out"; done; }
extra=("$@")
"$bin" bench sgemm >> "$out"
for w in w1-lif w1-alif; do
  run "$w"
  run "$w" --n 1024
  run "$w" --per-step
  run "$w" --n 1024 --per-step
  run "$w" --backend ndarray
  run "$w" --backend ndarray --per-step
  run "$w" --t 2000 --iters 1 --warmup 1
  run "$w" --t 2000 --iters 1 --warmup 1 --per-step
done
"$bin" bench w1-lif --t 10000 --iters 1 --warmup 0 >> "$out"
echo "wrote $out"
