#!/usr/bin/env bash
# Runs the fuzz targets for SECONDS each (default 60), seeding the corpus with the shipped
# example and benchmark programs. Needs cargo-fuzz (`cargo install cargo-fuzz`); works on
# stable through RUSTC_BOOTSTRAP=1.
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-60}
for target in assemble execute differential; do
    mkdir -p "corpus/$target"
    cp ../examples/*.stf ../benches/programs/*.stf seeds/*.stf "corpus/$target/" 2>/dev/null || true
    # Leak detection is off: a program can build a reference cycle (an array that contains
    # itself), which reference counting does not collect — a documented limitation, not a bug.
    ASAN_OPTIONS=detect_leaks=0 RUSTC_BOOTSTRAP=1 cargo fuzz run "$target" -- -max_total_time="$seconds" -max_len=4096 -detect_leaks=0
done
