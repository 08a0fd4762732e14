#!/usr/bin/env bash
# Benchmark (not a test): the live-path word error rate — what the STS service heard through
# the whole native stack — for pocketsphinx-testdata's five librivox recordings (1.5 s apart,
# published once), with fixed 2 s fragments (before: LIVEDUB_VAD=off, LIVEDUB_BED_MODE=off)
# with the previous defaults' phrases (4 s at most, sent whole) and with the default phrases
# (2.5 s at most, streamed while spoken: after). CPU engines; takes about 3 minutes.
#   bench/live_wer.sh
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="${LIVEDUB_BUILD_DIR:-$repo_root/build}"
work="$(mktemp -d /tmp/livedub-wer.XXXXXX)"
trap 'rm -rf "$work"' EXIT
librivox=/usr/share/pocketsphinx/test/data/librivox
parts=("$work/lead.wav")
sox -q -n -r 16000 -c 1 -b 16 "$work/lead.wav" trim 0 2  # the worker joins at the first keyframe
: >"$work/reference.txt"
for id in 0870 0880 0890 0920 0930; do
  f="$librivox/sense_and_sensibility_01_austen_64kb-$id.wav"
  sox -q "$f" "$work/$id.wav" pad 0 1.5
  parts+=("$work/$id.wav")
  grep "($(basename "$f" .wav))" "$librivox/transcription" | sed -E 's/<\/?s>//g; s/\(.*\)//' >>"$work/reference.txt"
done
sox -q "${parts[@]}" "$work/speech.wav"
seconds=$(printf '%.0f' "$(soxi -D "$work/speech.wav")")

run() {  # label title env...
  local label="$1" title="$2"; shift 2
  local port=$((20000 + RANDOM % 20000))
  env "$@" LIVEDUB_RUN_DIR="$work/$label" LIVEDUB_RTMP_PORT="$port" LIVEDUB_ORCHESTRATOR_PORT=$((port + 1)) \
    LIVEDUB_STS_PORT=$((port + 2)) LIVEDUB_STS_MODE=cpu LIVEDUB_RTMP_ALIAS_IDS= "$repo_root/scripts/stack" >"$work/$label.log" 2>&1 &
  local stack=$!
  for _ in $(seq 150); do grep -q "stack is up" "$work/$label.log" && break; sleep 0.2; done
  "$build_dir/tools/probe/livedub-probe" --in "rtmp://127.0.0.1:$port/live/wer/in" --out "rtmp://127.0.0.1:$port/live/wer/out" \
    --duration "$seconds" --drain 10 --speech "$work/speech.wav" --beep-amplitude 0 >"$work/$label.probe.json" ||
    { echo "live-wer: the probe failed; stack log:" >&2; tail -20 "$work/$label.log" >&2; exit 1; }
  echo "== $title"
  "$build_dir/bench/livedub-bench-live-wer" --sts "http://127.0.0.1:$((port + 2))" --stream wer --reference "$work/reference.txt"
  kill -TERM "$stack"; wait "$stack" 2>/dev/null || true
}
run before "before (fixed 2 s fragments)" LIVEDUB_VAD=off LIVEDUB_BED_MODE=off
run whole "phrases of at most 4 s, each sent whole once it ended (the previous defaults)" \
  LIVEDUB_FRAGMENT_MAX_MS=4000 LIVEDUB_STS_STREAMING=false
run after "after (phrases of at most 2.5 s, streamed while spoken: the defaults)"
