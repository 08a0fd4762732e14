#!/usr/bin/env bash
# Benchmark (not a test): what each further target language costs. Runs the native stack with
# the CPU engines twice on the same 60 s stream (English speech over music, the e2e material):
# LIVEDUB_TARGET_LANGS=es, then es,ca. Prints the CPU seconds the stream worker and the STS
# service used while the stream ran, the STS stage times per fragment (the recognition is done
# once, whatever the number of languages), and both outputs' delay.
#   bench/languages_cpu.sh [seconds=60] [second language=ca]
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="${LIVEDUB_BUILD_DIR:-$repo_root/build}"
seconds="${1:-60}"
second="${2:-ca}"
work="$(mktemp -d /tmp/livedub-bench-languages.XXXXXX)"
stack_pid=""
cleanup() { [[ -n "$stack_pid" ]] && stop_stack; rm -rf "$work"; }
trap cleanup EXIT
source "$repo_root/bench/stack.sh"

librivox=/usr/share/pocketsphinx/test/data/librivox
sox "$librivox/sense_and_sensibility_01_austen_64kb-0880.wav" -p pad 0 8 | sox - "$librivox/sense_and_sensibility_01_austen_64kb-0930.wav" -p |
  sox - -b 16 "$work/speech.wav" pad 0 8
gst-launch-1.0 -q filesrc location=/usr/share/games/colobot/music/Constructive.ogg ! decodebin ! audioconvert ! \
  audioresample ! audio/x-raw,rate=48000,channels=1,format=S16LE ! wavenc ! filesink location="$work/music.wav"

cpu_seconds() {  # utime + stime of a process, in seconds
  awk -v hz="$(getconf CLK_TCK)" '{ sub(/.*\) /, ""); print ($12 + $13) / hz }' "/proc/$1/stat"
}

run() {  # $1: LIVEDUB_TARGET_LANGS
  local langs="$1" run_dir="$work/run-${1//,/-}" rtmp orch sts
  start_stack "$run_dir" "$work/stack.out" LIVEDUB_TARGET_LANGS="$langs"
  rtmp=$rtmp_port; orch=$orchestrator_port; sts=$sts_port
  local outs=(--out "rtmp://127.0.0.1:$rtmp/live/bench/out")
  "$build_dir/tools/probe/livedub-probe" --in "rtmp://127.0.0.1:$rtmp/live/bench/in" "${outs[@]}" \
    --duration "$seconds" --drain 2 --speech "$work/speech.wav" --music "$work/music.wav" --music-gain 0.1 \
    --beep-amplitude 0 --json "$work/probe.json" >"$work/probe.out" 2>&1 &
  local probe=$!
  sleep 8  # the worker starts with the stream
  local worker sts_pid w0 s0
  worker=$(pgrep -n -x stream-worker) || { cat "$work/probe.out" "$work/stack.out"; exit 1; }
  sts_pid=$(pgrep -n -x sts-service)
  w0=$(cpu_seconds "$worker"); s0=$(cpu_seconds "$sts_pid")
  sleep $((seconds - 10))
  local w1 s1
  w1=$(cpu_seconds "$worker"); s1=$(cpu_seconds "$sts_pid")
  wait "$probe" || true
  local token
  token=$(cat "$run_dir/secrets/orchestrator-token")
  python3 -c 'import sys; l, w, s, n = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
print("%-6s worker %5.1f CPU s, STS %5.1f CPU s over %.0f s of stream (%.0f%% and %.0f%% of one core)" % (l, w, s, n, 100 * w / n, 100 * s / n))' \
    "$langs" "$(awk -v a="$w0" -v b="$w1" 'BEGIN { print b - a }')" "$(awk -v a="$s0" -v b="$s1" 'BEGIN { print b - a }')" "$((seconds - 10))"
  curl -s "http://127.0.0.1:$sts/v1/sessions/bench" | python3 -c '
import json, sys
frags = json.load(sys.stdin)["fragments"]
stages = {}
for f in frags:
    for k, v in f["timings_ms"].items(): stages.setdefault(k, []).append(v)
print("       STS per fragment (mean of %d, ms): " % len(frags) + ", ".join("%s %.0f" % (k, sum(v) / len(v)) for k, v in sorted(stages.items())))'
  python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print("       output delay %.0f ms (min %.0f, max %.0f)" % (r["delay_median_ms"], r["delay_min_ms"], r["delay_max_ms"]))' "$work/probe.json"
  curl -s -H "Authorization: Bearer $token" "http://127.0.0.1:$orch/v1/streams/bench/captions" >/dev/null || true
  stop_stack
}

[[ "${LANGUAGES_BENCH_ONLY:-}" == second ]] || run es
run "es,$second"
