#!/usr/bin/env bash
# Benchmark (not a test): caption timing on material the e2e test never saw. Publishes 14
# asterisk-core-sounds-en prompts (one phrase each, 2.5 s apart) over colobot's "Humanitarian"
# through the native stack with the CPU engines and LIVEDUB_TARGET_LANGS=es,ca, records the es
# output, then places every WebVTT cue (en, es, ca) and every CEA-608 caption read back from the
# RTMP output against where each prompt was spoken. Takes about 2 minutes.
#   bench/captions_timing.sh [prompts=14]
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="${LIVEDUB_BUILD_DIR:-$repo_root/build}"
count="${1:-14}"
work="$(mktemp -d /tmp/livedub-bench-captions.XXXXXX)"
stack_pid=""
cleanup() { [[ -n "$stack_pid" ]] && stop_stack; [[ -n "${CAPTIONS_BENCH_KEEP:-}" ]] && echo "kept $work" || rm -rf "$work"; }
trap cleanup EXIT
source "$repo_root/bench/stack.sh"

analysis=(python3 -W ignore::DeprecationWarning "$repo_root/bench/captions_timing.py")
mapfile -t files < <("${analysis[@]}" prepare /usr/share/asterisk/sounds/en \
  /usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz "$count" 2.0 2.5 "$work/prompts.json")
parts=()
sox -q -n -r 16000 -c 1 -b 16 "$work/lead.wav" trim 0 2.0
parts+=("$work/lead.wav")
for i in "${!files[@]}"; do
  sox -q "${files[$i]}" -r 16000 -c 1 -b 16 "$work/p$i.wav" pad 0 2.5
  parts+=("$work/p$i.wav")
done
sox -q "${parts[@]}" "$work/speech.wav"
seconds=$(python3 -c 'import json,sys,math; print(math.ceil(json.load(open(sys.argv[1]))["seconds"]))' "$work/prompts.json")
gst-launch-1.0 -q filesrc location=/usr/share/games/colobot/music/Humanitarian.ogg ! decodebin ! audioconvert ! \
  audioresample ! audio/x-raw,rate=48000,channels=1,format=S16LE ! wavenc ! filesink location="$work/music.wav"

start_stack "$work/run" "$work/stack.out" LIVEDUB_TARGET_LANGS=es,ca
"$build_dir/tools/probe/livedub-probe" --in "rtmp://127.0.0.1:$rtmp_port/live/captions/in" \
  --out "rtmp://127.0.0.1:$rtmp_port/live/captions/out" --record "$work/out-es.flv" --duration "$seconds" --drain 10 \
  --speech "$work/speech.wav" --music "$work/music.wav" --music-gain 0.1 --beep-amplitude 0 \
  --json "$work/probe.json" >"$work/probe.out" 2>&1 || { tail -20 "$work/probe.out" "$work/stack.out"; exit 1; }
stop_stack
"${analysis[@]}" report "$work/prompts.json" "$work/run/captions/captions.jsonl" "$work/probe.json" \
  "$work/out-es.flv" en,es,ca
