#!/usr/bin/env bash
# Installs the Debian 12 packages the project needs, only those missing. Works as root or through sudo.
#   tools/install_deps.sh            build and test dependencies (Open MPI included: data-parallel training and its test;
#                                    ffmpeg, which `pipnet infer VIDEO` runs as a program and the video test uses; the
#                                    build does not need it, and without it only videos are refused)
#   tools/install_deps.sh --ref      also python3-torch / python3-numpy / libopenblas-dev (reference scripts, benches)
#                                    and nodejs + npm with onnxruntime-node in tools/node_modules (pipnet bench's peers)
set -euo pipefail
need=(g++ cmake make catch2 libstb-dev openmpi-bin libopenmpi-dev ffmpeg)
if [[ "${1:-}" == "--ref" ]]; then
  need+=(python3-torch python3-numpy libopenblas-dev)
  command -v npm >/dev/null || need+=(nodejs npm)  # a node from elsewhere (nodesource, nvm) serves as well
fi
missing=()
for p in "${need[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# OpenMP comes with g++ (libgomp); nvcc is used when /usr/local/cuda exists, never installed here.
if ((${#missing[@]} > 0)); then
  echo "installing: ${missing[*]}"
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# ONNX Runtime for the benchmark's peers: the npm package carries its CPU library; no install scripts are run.
if [[ "${1:-}" == "--ref" && ! -d "$(dirname "$0")/node_modules/onnxruntime-node" ]]; then
  echo "installing: onnxruntime-node 1.30.0 into tools/node_modules"
  npm install --prefix "$(dirname "$0")" --ignore-scripts --no-save --no-audit --no-fund onnxruntime-node@1.30.0 >/dev/null
fi
