# Sourced by the scripts: one build cache outside the clone, so CI and every
# checkout rebuild incrementally (wasmtime takes ~10-14 min from scratch on 2 cores).
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/casefile/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
mkdir -p "$CARGO_TARGET_DIR"
