#!/usr/bin/env bash
# The test suite again in a second tree built with AddressSanitizer + UndefinedBehaviorSanitizer (leak detection on),
# CPU only: every test but the long ones (training runs, the CLI and MPI scripts, the gradient checks), and the fuzz corpus
# replays. Part of the README's test command and so of .ci/run. About 5 minutes on 2 idle cores (build included).
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
cmake -S . -B build-san -DPIPNET_SANITIZE=ON -DPIPNET_NO_CUDA=ON >/dev/null
cmake --build build-san -j --target tests fuzz_replays
ctest --test-dir build-san --output-on-failure -j "$(nproc)" -E "^(cli|train|gradcheck|cuda|mpi|video):|^training step|^distill: (synthetic|kill)"
echo "sanitizer build and tests: $(( $(date +%s) - start )) s"
