#!/usr/bin/env bash
# Benchmark (not a test): what GStreamer's RTMP/FLV elements cost with no audio work at all,
# next to ffmpeg doing the same, all at once on one 720p30 H.264 + AAC input (nginx-rtmp):
#   read only:   rtmp2src ! fakesink                      vs  ffmpeg -i rtmp -c copy -f null
#   copy relay:  rtmp2src ! flvdemux ! (queue, parse) x2
#                ! flvmux ! rtmp2sink                     vs  ffmpeg -i rtmp -c copy -f flv rtmp
# The worker's I/O is these elements; bench/relay_cpu.sh adds the AAC transcode and the worker.
#   bench/remux_floor.sh [seconds=40]
set -euo pipefail
window="${1:-40}"
work="$(mktemp -d /tmp/livedub-remux.XXXXXX)"
port=$((20000 + RANDOM % 20000))
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
# shellcheck source=bench/rtmp_relay_common.sh
source "$(dirname "${BASH_SOURCE[0]}")/rtmp_relay_common.sh"

relay_clip "$((window + 20))"
relay_nginx
rtmp=(-rtmp_app live)
ffmpeg -v error -re -i "$work/clip.flv" -c copy -f flv "${rtmp[@]}" -rtmp_playpath r/in "rtmp://127.0.0.1:$port" \
  2>>"$work/ffmpeg.log" & pids+=($!)
sleep 1
gst-launch-1.0 -q rtmp2src host=127.0.0.1 port="$port" application=live stream=r/in ! fakesink \
  >>"$work/gst.log" 2>&1 & gst_read=$!; pids+=("$gst_read")
ffmpeg -v error "${rtmp[@]}" -rtmp_playpath r/in -i "rtmp://127.0.0.1:$port" -c copy -f null - \
  2>>"$work/ffmpeg.log" & ff_read=$!; pids+=("$ff_read")
gst-launch-1.0 -q rtmp2src host=127.0.0.1 port="$port" application=live stream=r/in ! flvdemux name=d \
  d.video ! queue ! h264parse ! m.video d.audio ! queue ! aacparse ! m.audio \
  flvmux name=m streamable=true ! rtmp2sink host=127.0.0.1 port="$port" application=live stream=r/gst \
  chunk-size=4096 >>"$work/gst.log" 2>&1 & gst_copy=$!; pids+=("$gst_copy")
ffmpeg -v error "${rtmp[@]}" -rtmp_playpath r/in -i "rtmp://127.0.0.1:$port" -c copy -f flv \
  "${rtmp[@]}" -rtmp_playpath r/ff "rtmp://127.0.0.1:$port" 2>>"$work/ffmpeg.log" & ff_copy=$!; pids+=("$ff_copy")
for name in gst ff; do  # a reader on each relay's output, so each really pushes to a consumer
  ffmpeg -v error "${rtmp[@]}" -rtmp_playpath "r/$name" -i "rtmp://127.0.0.1:$port" -c copy -f null - \
    2>>"$work/ffmpeg.log" & pids+=($!)
done
sleep 8  # connections and the first keyframe

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
switches() { cat /proc/"$1"/task/*/status 2>/dev/null | awk '/ctxt_switches/ {s += $2} END {print s + 0}'; }
procs=("$gst_read" "$ff_read" "$gst_copy" "$ff_copy")
declare -A t0 c0
for p in "${procs[@]}"; do t0[$p]=$(ticks "$p"); c0[$p]=$(switches "$p"); done
start=$(date +%s.%N)
sleep "$window"
el=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN {print b - a}')
hz=$(getconf CLK_TCK)
report() {  # label pid
  awk -v l="$1" -v t=$(($(ticks "$2") - t0[$2])) -v c=$(($(switches "$2") - c0[$2])) -v hz="$hz" -v el="$el" \
    'BEGIN { printf "  %-56s %5.2f %%  %5.0f context switches/s\n", l, 100 * t / hz / el, c / el }'
}
echo "720p30 H.264 3 Mb/s + AAC, ${el%.*} s window (% of one core)"
report "read only, gst-launch (rtmp2src ! fakesink)" "$gst_read"
report "read only, ffmpeg (-c copy -f null)" "$ff_read"
report "copy relay, gst-launch (flvdemux ! flvmux ! rtmp2sink)" "$gst_copy"
report "copy relay, ffmpeg (-c copy -f flv)" "$ff_copy"
