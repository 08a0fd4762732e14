#!/usr/bin/env bash
# Benchmark (not a test): CPU use of the stream worker relaying a 720p30 stream (H.264 passed
# through, audio decoded -> fragmented -> STS mock passthrough -> AAC) next to
# `ffmpeg -c:v copy -c:a aac` doing the same relay, both at once on the same input.
# Prints % of one core for each over a measurement window, with GStreamer's floor next to them:
# the same relay as a bare gst-launch-1.0 pipeline (its RTMP elements, demuxer, AAC decoder and
# encoder, muxer; none of the worker's own work).
#   bench/relay_cpu.sh [seconds=30]
# RELAY_PERF=FILE also samples the worker with perf (call graphs) over the window into FILE:
#   perf report -i FILE --no-children --sort dso,sym
# RELAY_BASELINE=PATH runs a second stream-worker (another build, e.g. before a change) on the
# same input at the same time, for a before/after in one run.
# RELAY_CALLGRIND=DIR runs the worker under valgrind's callgrind instead (slower than live: 12-13 s
# of media in a 30 s window here, so the counts are per second of media, not of wall time),
# collects over the window only, and prints instructions by stage (bench/callgrind_stages.py).
# RELAY_THREADS=1 also prints the worker's and the gst-launch relay's threads over the window:
# name, % of one core and context switches a second each (where the wake-ups come from).
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="${LIVEDUB_BUILD_DIR:-$repo_root/build}"
window="${1:-30}"
# shellcheck source=bench/rtmp_relay_common.sh
source "$repo_root/bench/rtmp_relay_common.sh"
relay_setup

clip_s=$((window + 25))
[[ -z "${RELAY_CALLGRIND:-}" ]] || clip_s=$((clip_s + 30))
relay_clip "$clip_s"
relay_nginx
LIVEDUB_STS_PORT=0 LIVEDUB_STS_PORT_FILE="$work/sts.port" LIVEDUB_STS_MODE=mock-passthrough \
  "$build_dir/apps/sts-service/sts-service" >"$work/sts.log" 2>&1 & sts_pid=$!; pids+=("$sts_pid")
for _ in $(seq 50); do [[ -s "$work/sts.port" ]] && break; sleep 0.1; done

ffmpeg -v error -re -i "$work/clip.flv" -c copy -f flv -rtmp_app live -rtmp_playpath bench/in "rtmp://127.0.0.1:$port" 2>>"$work/ffmpeg.log" & pids+=("$!")
sleep 1
worker_prefix=()
if [[ -n "${RELAY_CALLGRIND:-}" ]]; then
  mkdir -p "$RELAY_CALLGRIND" && rm -f "$RELAY_CALLGRIND"/callgrind.out.*
  # One file per thread: the stage table tells the threads apart by what they call.
  # valgrind does not run RDTSCP where the CPU does not advertise it (this VM), and libhwy
  # (libavcodec -> libjxl) runs it while loading: the worker gets a copy with RDTSC + NOP in its
  # place (same result but ECX, which the compiler already treats as clobbered).
  hwy="$(ldconfig -p | awk '/libhwy\.so\.1 / {p = $NF} END {print p}')"
  if [[ -n "$hwy" ]]; then
    mkdir -p "$work/lib"
    mapfile -t rdtscp_at < <(objdump -d "$hwy" | awk '$0 ~ /\trdtscp/ {sub(":", "", $1); print $1}')
    python3 - "$(readlink -f "$hwy")" "$work/lib/$(basename "$hwy")" "${rdtscp_at[@]}" <<'PATCH'
import sys
data = bytearray(open(sys.argv[1], "rb").read())
for at in (int(a, 16) for a in sys.argv[3:]):
    assert data[at:at + 3] == b"\x0f\x01\xf9", hex(at)  # objdump's address is the file offset here
    data[at:at + 3] = b"\x0f\x31\x90"
open(sys.argv[2], "wb").write(data)
PATCH
    worker_prefix=(env LD_LIBRARY_PATH="$work/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}")
  fi
  worker_prefix+=(valgrind -q --tool=callgrind --instr-atstart=no --separate-threads=yes
    --callgrind-out-file="$RELAY_CALLGRIND/callgrind.out")
fi
LIVEDUB_STREAM_ID=bench LIVEDUB_INPUT_URL="rtmp://127.0.0.1:$port/live/bench/in" \
  LIVEDUB_OUTPUT_URL="rtmp://127.0.0.1:$port/live/bench/out" STS_SERVICE_URL="http://127.0.0.1:$(cat "$work/sts.port")" \
  "${worker_prefix[@]}" "$build_dir/apps/media-service/stream-worker" >"$work/worker.log" 2>&1 & worker_pid=$!; pids+=("$worker_pid")
base_pid=""
if [[ -n "${RELAY_BASELINE:-}" ]]; then
  LIVEDUB_STREAM_ID=benchb LIVEDUB_INPUT_URL="rtmp://127.0.0.1:$port/live/bench/in" \
    LIVEDUB_OUTPUT_URL="rtmp://127.0.0.1:$port/live/bench/outb" STS_SERVICE_URL="http://127.0.0.1:$(cat "$work/sts.port")" \
    "$RELAY_BASELINE" >"$work/worker-baseline.log" 2>&1 & base_pid=$!; pids+=("$base_pid")
fi
ffmpeg -v error -rtmp_app live -rtmp_playpath bench/in -i "rtmp://127.0.0.1:$port" -c:v copy -c:a aac -b:a 128k \
  -f flv -rtmp_app live -rtmp_playpath bench/ffout "rtmp://127.0.0.1:$port" 2>>"$work/ffmpeg.log" & ffmpeg_pid=$!; pids+=("$ffmpeg_pid")
# GStreamer's floor: the same relay as a bare gst-launch pipeline (its RTMP elements, demuxer,
# decoder, encoder and muxer, one queue per track), no VAD, bed, mix or pacing. The sink does not
# sync, as the worker's publisher does not: with sync=true it waits on the clock for each buffer
# (about 0.8 points of a core more, measured).
# (Not under callgrind, which counts the worker alone.)
gst_out=""
if [[ -z "${RELAY_CALLGRIND:-}" ]]; then
  gst-launch-1.0 -q rtmp2src host=127.0.0.1 port="$port" application=live stream=bench/in ! flvdemux name=d \
    d.video ! queue ! h264parse ! m.video \
    d.audio ! queue ! aacparse ! avdec_aac ! audioconvert ! avenc_aac bitrate=128000 ! aacparse ! m.audio \
    flvmux name=m streamable=true ! rtmp2sink host=127.0.0.1 port="$port" application=live stream=bench/gstout \
    chunk-size=4096 sync=false >"$work/gst.log" 2>&1 & gst_pid=$!; pids+=("$gst_pid")
  gst_out=gstout
fi
# Readers on every output, so each relay really pushes to a consumer.
for name in out ffout $gst_out ${base_pid:+outb}; do
  ffmpeg -v error -rtmp_app live -rtmp_playpath "bench/$name" -i "rtmp://127.0.0.1:$port" -c copy -f null - 2>>"$work/ffmpeg.log" & pids+=("$!")
done

sleep 10  # warm-up: output delay + connections
if [[ -n "${RELAY_CALLGRIND:-}" ]]; then
  sleep 30  # the model load and the first fragments take much longer under valgrind
  callgrind_control -i on "$worker_pid" >/dev/null
  sleep "$window"
  callgrind_control -d "$worker_pid" >/dev/null
  callgrind_control -i off "$worker_pid" >/dev/null
  cp "$work/worker.log" "$RELAY_CALLGRIND/worker.log"
  python3 "$repo_root/bench/callgrind_stages.py" "$RELAY_CALLGRIND"
  exit 0
fi
sys_ticks() { awk '{print $15}' "/proc/$1/stat"; }  # the kernel's share: syscalls, wake-ups
hz=$(getconf CLK_TCK)
per_thread() {  # tid name cpu-ticks context-switches, one line per thread of process $1
  local t
  for t in /proc/"$1"/task/*; do
    printf '%s %s %s %s\n' "${t##*/}" "$(tr ' ' '_' <"$t/comm")" "$(awk '{print $14 + $15}' "$t/stat")" \
      "$(awk '/ctxt_switches/ {s += $2} END {print s + 0}' "$t/status")"
  done 2>/dev/null
}
if [[ -n "${RELAY_THREADS:-}" ]]; then per_thread "$worker_pid" >"$work/threads0"; per_thread "$gst_pid" >"$work/gst-threads0"; fi
w0=$(ticks $worker_pid); f0=$(ticks $ffmpeg_pid); g0=$(ticks "$gst_pid"); s0=$(ticks $sts_pid); b0=${base_pid:+$(ticks $base_pid)}; t0=$(date +%s.%N)
wc0=$(switches $worker_pid); fc0=$(switches $ffmpeg_pid); bc0=${base_pid:+$(switches $base_pid)}
ws0=$(sys_ticks $worker_pid); fs0=$(sys_ticks $ffmpeg_pid); gc0=$(switches "$gst_pid")
if [[ -n "${RELAY_PERF:-}" ]]; then
  perf record -q -F 499 -g -p "$worker_pid" -o "$RELAY_PERF" -- sleep "$window" 2>>"$work/perf.log"
else
  sleep "$window"
fi
w1=$(ticks $worker_pid); f1=$(ticks $ffmpeg_pid); g1=$(ticks "$gst_pid"); s1=$(ticks $sts_pid); b1=${base_pid:+$(ticks $base_pid)}; t1=$(date +%s.%N)
wc1=$(switches $worker_pid); fc1=$(switches $ffmpeg_pid); bc1=${base_pid:+$(switches $base_pid)}
ws1=$(sys_ticks $worker_pid); fs1=$(sys_ticks $ffmpeg_pid); gc1=$(switches "$gst_pid")
if [[ -n "${RELAY_THREADS:-}" ]]; then per_thread "$worker_pid" >"$work/threads1"; per_thread "$gst_pid" >"$work/gst-threads1"; fi
threads=$(find "/proc/$worker_pid/task" -mindepth 1 -maxdepth 1 | wc -l); ffmpeg_threads=$(find "/proc/$ffmpeg_pid/task" -mindepth 1 -maxdepth 1 | wc -l); gst_threads=$(find "/proc/$gst_pid/task" -mindepth 1 -maxdepth 1 | wc -l)
awk -v g=$((g1 - g0)) -v gc=$((gc1 - gc0)) -v gt="$gst_threads" -v ws=$((ws1 - ws0)) -v fs=$((fs1 - fs0)) -v wc=$((wc1 - wc0)) -v fc=$((fc1 - fc0)) -v wt="$threads" -v ft="$ffmpeg_threads" -v w=$((w1 - w0)) -v f=$((f1 - f0)) -v s=$((s1 - s0)) -v b="${base_pid:+$((b1 - b0))}" -v bc="${base_pid:+$((bc1 - bc0))}" -v hz="$hz" -v t0="$t0" -v t1="$t1" 'BEGIN {
  el = t1 - t0
  printf "relay of 720p30 H.264 + AAC 48 kHz stereo, %.0f s window (%% of one core)\n", el
  printf "  livedub stream-worker (video copy, audio -> STS mock -> AAC): %5.1f %%\n", 100 * w / hz / el
  printf "  livedub sts-service (mock passthrough):                       %5.1f %%\n", 100 * s / hz / el
  printf "  ffmpeg -c:v copy -c:a aac:                                    %5.1f %%\n", 100 * f / hz / el
  printf "  gst-launch relay (rtmp2src, flvdemux, avdec_aac, avenc_aac, flvmux, rtmp2sink): %5.1f %%, %d threads, %.0f context switches/s\n", 100 * g / hz / el, gt, gc / el
  printf "  ratio worker / ffmpeg: %.2f (gst-launch / ffmpeg: %.2f)\n", w / (f > 0 ? f : 1), g / (f > 0 ? f : 1)
  if (b != "") printf "  baseline stream-worker (RELAY_BASELINE): %5.1f %%, ratio to ffmpeg %.2f, %.0f context switches/s\n", 100 * b / hz / el, b / (f > 0 ? f : 1), bc / el
  printf "  threads and context switches a second: worker %d, %.0f/s; ffmpeg %d, %.0f/s\n", wt, wc / el, ft, fc / el
  printf "  of which in the kernel (system time): worker %.1f %%, ffmpeg %.1f %%\n", 100 * ws / hz / el, 100 * fs / hz / el
}'
thread_table() {  # before after: % of one core and context switches a second per thread, busiest first
  awk -v hz="$hz" -v el="$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}')" '
    FNR == NR { cpu[$1] = $3; cs[$1] = $4; next }
    { c = $3 - ($1 in cpu ? cpu[$1] : 0); w = $4 - ($1 in cs ? cs[$1] : 0)
      printf "    %-18s %5.2f %%  %6.0f/s\n", $2, 100 * c / hz / el, w / el }' "$1" "$2" | sort -k2,2 -n -r
}
if [[ -n "${RELAY_THREADS:-}" ]]; then
  echo "  worker threads over the window (% of one core, context switches a second):"
  thread_table "$work/threads0" "$work/threads1"
  echo "  gst-launch relay threads:"
  thread_table "$work/gst-threads0" "$work/gst-threads1"
fi
