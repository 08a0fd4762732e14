#!/usr/bin/env bash
# Benchmark (not a test): delay against fallbacks through the whole native stack, on material
# the delay work was not tuned on: 16 asterisk-core-sounds-en prompts of 3-8 s (real voices,
# 8 kHz), 1.5 s apart, over colobot's "Constructive" at a tenth of its level, published once.
# For each configuration: the delay the worker planned at start (no LIVEDUB_OUTPUT_DELAY_MS),
# the delay measured on the output, the phrases that fell back to the original voice, the
# live-path WER of what the STS heard, and the phrases cut at the maximum fragment length
# (between heard words, or at the quietest block).
#   before: 4 s fragments, each sent whole once it ended (the previous defaults)
#   after:  2.5 s fragments, streamed to the STS while spoken (the defaults)
# CPU engines, then the mock (mock-passthrough). About 6 minutes.
#   bench/delay_fallback.sh [cpu|cpu-after|mock|all]      (DELAY_BENCH_KEEP=1 keeps the logs)
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="${LIVEDUB_BUILD_DIR:-$repo_root/build}"
which="${1:-all}"
work="$(mktemp -d /tmp/livedub-delay.XXXXXX)"
trap '[[ -n "${DELAY_BENCH_KEEP:-}" ]] && echo "kept $work" || rm -rf "$work"' EXIT
sounds=/usr/share/asterisk/sounds/en
transcripts=/usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz

# The prompts: 3-8 s (8 kHz 16-bit mono: 16000 bytes a second), every k-th by name, 16 of them.
mapfile -t prompts < <(find "$sounds/" -maxdepth 1 -name '*.wav' -size +47999c -size -128001c | sort)
stride=$(( ${#prompts[@]} / 16 )); ((stride > 0)) || stride=1
parts=("$work/lead.wav")
sox -q -n -r 16000 -c 1 -b 16 "$work/lead.wav" trim 0 2  # the worker joins at the first keyframe
: >"$work/reference.txt"
count=0
for ((i = 0; i < ${#prompts[@]} && count < 16; i += stride)); do
  f="${prompts[$i]}"; id="$(basename "$f" .wav)"
  sox -q "$f" -r 16000 "$work/$id.wav" pad 0 1.5
  parts+=("$work/$id.wav")
  zcat "$transcripts" | grep -m1 "^$id: " | sed -E "s/^$id: //" >>"$work/reference.txt"
  count=$((count + 1))
done
sox -q "${parts[@]}" "$work/speech.wav"
seconds=$(printf '%.0f' "$(soxi -D "$work/speech.wav")")
gst-launch-1.0 -q filesrc location=/usr/share/games/colobot/music/Constructive.ogg ! decodebin ! audioconvert ! \
  audioresample ! audio/x-raw,format=S16LE,rate=48000,channels=1 ! wavenc ! filesink location="$work/music.wav"

printf '%-8s %-44s %9s %9s %11s %9s %14s\n' engines configuration planned measured fallbacks "live WER" "cut at max"
run() {  # mode label title env...
  local mode="$1" label="$2" title="$3"; shift 3
  local port=$((20000 + RANDOM % 20000))
  env "$@" LIVEDUB_RUN_DIR="$work/$label" LIVEDUB_RTMP_PORT="$port" LIVEDUB_ORCHESTRATOR_PORT=$((port + 1)) \
    LIVEDUB_STS_PORT=$((port + 2)) LIVEDUB_STS_MODE="$mode" LIVEDUB_RTMP_ALIAS_IDS= "$repo_root/scripts/stack" >"$work/$label.log" 2>&1 &
  local stack=$!
  for _ in $(seq 300); do grep -q "stack is up" "$work/$label.log" && break; sleep 0.2; done
  "$build_dir/tools/probe/livedub-probe" --in "rtmp://127.0.0.1:$port/live/delay/in" --out "rtmp://127.0.0.1:$port/live/delay/out" \
    --duration "$seconds" --drain 10 --speech "$work/speech.wav" --music "$work/music.wav" --music-gain 0.1 \
    --beep-amplitude 0 >"$work/$label.probe.json" ||
    { echo "delay-fallback: the probe failed; stack log:" >&2; tail -20 "$work/$label.log" >&2; exit 1; }
  local wer="n/a"
  if [[ "$mode" == cpu ]]; then
    wer="$("$build_dir/bench/livedub-bench-live-wer" --sts "http://127.0.0.1:$((port + 2))" --stream delay \
      --reference "$work/reference.txt" | grep -oE '[0-9.]+ %' | head -1)"
  fi
  kill -TERM "$stack"; wait "$stack" 2>/dev/null || true
  local log="$work/$label/logs/worker-delay.log"
  local planned measured fallbacks dubbed cuts
  planned="$(grep -oE 'output delay [0-9]+ ms' "$log" | head -1 | grep -oE '[0-9]+')"
  measured="$(python3 -c 'import json,sys; print(round(json.load(open(sys.argv[1]))["delay_median_ms"]))' "$work/$label.probe.json")"
  fallbacks="$(grep -c 'falls back to original audio' "$log" || true)"
  dubbed="$(grep -c '"msg":"fragment dubbed"' "$work/$label/logs/sts-service.log" || true)"
  cuts="$(grep -oE 'maximum fragment length: [0-9]+ \([0-9]+' "$log" | sed -E 's/.*: ([0-9]+) \(([0-9]+)/\1 (\2 at words)/')"
  printf '%-8s %-44s %6s ms %6s ms %5s / %-3s %9s %14s\n' "$mode" "$title" "$planned" "$measured" "$fallbacks" \
    "$((fallbacks + dubbed))" "$wer" "$cuts"
}
if [[ "$which" == cpu || "$which" == all ]]; then
  run cpu cpu-before "before: 4 s fragments, sent whole" LIVEDUB_FRAGMENT_MAX_MS=4000 LIVEDUB_STS_STREAMING=false
fi
if [[ "$which" == cpu || "$which" == all || "$which" == cpu-after ]]; then
  run cpu cpu-after "after: 2.5 s fragments, streamed (defaults)"
fi
if [[ "$which" == mock || "$which" == all ]]; then
  run mock-passthrough mock-before "before: 4 s fragments, sent whole" LIVEDUB_FRAGMENT_MAX_MS=4000 LIVEDUB_STS_STREAMING=false
  run mock-passthrough mock-after "after: 2.5 s fragments, streamed (defaults)"
fi
echo "material: $count asterisk-core-sounds-en prompts ($seconds s with pauses) over music; reference: $transcripts"
