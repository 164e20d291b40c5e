#!/usr/bin/env bash
# The streaming-loader path of the end-to-end test: the Run:ai model streamer with its S3 backend in the
# vLLM environment (vLLM's own `runai` extra asks for runai-model-streamer[...,s3]>=0.15.7; the s3 part is
# the one the test reads through), and a local S3 double (moto's server) in its own environment.
# Idempotent. Prints the path of moto's server script.
set -euo pipefail
cd "$(dirname "$0")/.."
vllm_python=$(scripts/install-vllm.sh)
if ! "$vllm_python" -c "import runai_model_streamer_s3" >/dev/null 2>&1; then
  "$vllm_python" -m pip install --quiet "runai-model-streamer==0.17.1" "runai-model-streamer-s3==0.17.1"
fi
venv=$(scripts/tool-venv.sh moto-s3 "moto[server]==5.2.5")
echo "$venv/bin/moto_server"
