#!/usr/bin/env bash
# Neural translation and voice speed on a GPU, from the repository alone (the lent GPU machine has Python
# with onnx and numpy, no Debian packages, no network): generates the two model families at
# their real shapes with random weights (tools/mt-model-gen, no tokeniser needed), then times the
# STS's decode loop on ONNX Runtime's CUDA provider (bench/gpu_mt/ort_decode.py); likewise Piper
# voices at the medium and high shapes (tools/tts-model-gen, bench/gpu_mt/ort_tts.py) and the
# voice-cloning engine, Pocket TTS, at its real widths (bench/gpu_mt/ort_pocket.py); prints how
# many live streams one GPU keeps up with. Within 8 minutes on an H100/H200. Recognition is
# timed by bench/whisper_rtf (a CUDA build of whisper.cpp), not here.
#   bash bench/gpu_mt/run.sh [WORK_DIR]
# Exit 3 when this Python's ONNX Runtime has no CUDA provider (pip's onnxruntime-gpu has it;
# the STS's GPU image installs ONNX Runtime's GPU release at build time).
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
work="${1:-$(mktemp -d)}"
python="${PYTHON:-python3}"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || echo "run.sh: nvidia-smi failed" >&2
"$python" -c 'import onnxruntime as o; print("onnxruntime", o.__version__, o.get_available_providers())' || {
  echo "run.sh: no onnxruntime in $python" >&2
  exit 3
}
gen=("$python" "$repo_root/tools/mt-model-gen/make_mt_model.py" --shape real --no-int8 --no-tokenizer)
"${gen[@]}" --family marian --pair en-es "$work/mt/opus-mt-en-es"
"${gen[@]}" --family m2m100 "$work/mt/m2m100_418M"
for model in opus-mt-en-es m2m100_418M; do
  "$python" "$repo_root/bench/gpu_mt/ort_decode.py" "$work/mt/$model" --batches 1,4,16,64 --tokens 24
done | tee "$work/gpu_mt.txt"
# A stream asks for one translation per phrase (about one every 3 s) per target language.
awk '/translations\/s/ { next } $1 == 16 && $2 == "|" { printf "batch 16: %.0f translations/s = about %.0f streams x 1 language (one phrase per 3 s)\n", $6, $6 * 3 }' "$work/gpu_mt.txt"
voice_gen=("$python" "$repo_root/tools/tts-model-gen/make_piper_voice.py" --language es_ES --espeak-voice es)
for quality in medium high; do
  "${voice_gen[@]}" --quality "$quality" "$work/tts/piper/es_ES-test-$quality.onnx"
  "$python" "$repo_root/bench/gpu_mt/ort_tts.py" "$work/tts/piper/es_ES-test-$quality.onnx" --concurrency 1,4,16
done | tee "$work/gpu_tts.txt"
awk '$1 == 16 && $2 == "|" { printf "voice at 16 at once: %.0f sentences/s = about %.0f streams x 1 language (one phrase per 3 s)\n", $6, $6 * 3 }' "$work/gpu_tts.txt"
# The cloned voice: one sentence per phrase too; the reference clip is encoded once per stream.
"$python" "$repo_root/tools/tts-model-gen/make_pocket_tts.py" --shape real --no-tokenizer "$work/tts/pocket/real"
"$python" "$repo_root/bench/gpu_mt/ort_pocket.py" "$work/tts/pocket/real" --concurrency 1,4,16 | tee "$work/gpu_pocket.txt"
awk '$1 == 16 && $2 == "|" { printf "cloned voice at 16 at once: %.1f sentences/s = about %.0f streams x 1 language (one phrase per 3 s)\n", $8, $8 * 3 }' "$work/gpu_pocket.txt"
