#!/usr/bin/env bash
# Benchmark (not a test): what GStreamer's RTMP/FLV elements cost with no audio work at all,
# next to ffmpeg doing the same, all at once on one 720p30 H.264 + AAC input (nginx-rtmp):
#   read only:   rtmp2src ! fakesink                      vs  ffmpeg -i rtmp -c copy -f null
#   copy relay:  rtmp2src ! flvdemux ! (queue, parse) x2
#                ! flvmux ! rtmp2sink                     vs  ffmpeg -i rtmp -c copy -f flv rtmp
# The worker's I/O is these elements; bench/relay_cpu.sh adds the AAC transcode and the worker.
# rtmp2sink does not sync to the clock, as in the worker's publisher. Two more GStreamer rows
# split the copy relay's cost: the same remux into a fakesink (no RTMP output), and rtmp2sink at
# gst-launch's default sync=true (it then waits on the clock for every buffer).
#   bench/remux_floor.sh [seconds=40]
set -euo pipefail
window="${1:-40}"
# shellcheck source=bench/rtmp_relay_common.sh
source "$(dirname "${BASH_SOURCE[0]}")/rtmp_relay_common.sh"
relay_setup

relay_clip "$((window + 20))"
relay_nginx
rtmp=(-rtmp_app live)
ffmpeg -v error -re -i "$work/clip.flv" -c copy -f flv "${rtmp[@]}" -rtmp_playpath r/in "rtmp://127.0.0.1:$port" \
  2>>"$work/ffmpeg.log" & pids+=("$!")
sleep 1
gst-launch-1.0 -q rtmp2src host=127.0.0.1 port="$port" application=live stream=r/in ! fakesink \
  >>"$work/gst.log" 2>&1 & gst_read=$!; pids+=("$gst_read")
ffmpeg -v error "${rtmp[@]}" -rtmp_playpath r/in -i "rtmp://127.0.0.1:$port" -c copy -f null - \
  2>>"$work/ffmpeg.log" & ff_read=$!; pids+=("$ff_read")
remux() {  # sink...: rtmp2src ! flvdemux ! flvmux ! the given sink, in the background
  gst-launch-1.0 -q rtmp2src host=127.0.0.1 port="$port" application=live stream=r/in ! flvdemux name=d \
    d.video ! queue ! h264parse ! m.video d.audio ! queue ! aacparse ! m.audio \
    flvmux name=m streamable=true ! "$@" >>"$work/gst.log" 2>&1 &
}
remux rtmp2sink host=127.0.0.1 port="$port" application=live stream=r/gst chunk-size=4096 sync=false
gst_copy=$!; pids+=("$gst_copy")
remux fakesink; gst_fake=$!; pids+=("$gst_fake")
remux rtmp2sink host=127.0.0.1 port="$port" application=live stream=r/gstsync chunk-size=4096 sync=true
gst_sync=$!; pids+=("$gst_sync")
ffmpeg -v error "${rtmp[@]}" -rtmp_playpath r/in -i "rtmp://127.0.0.1:$port" -c copy -f flv \
  "${rtmp[@]}" -rtmp_playpath r/ff "rtmp://127.0.0.1:$port" 2>>"$work/ffmpeg.log" & ff_copy=$!; pids+=("$ff_copy")
for name in gst gstsync ff; do  # a reader on each relay's output, so each really pushes to a consumer
  ffmpeg -v error "${rtmp[@]}" -rtmp_playpath "r/$name" -i "rtmp://127.0.0.1:$port" -c copy -f null - \
    2>>"$work/ffmpeg.log" & pids+=("$!")
done
sleep 8  # connections and the first keyframe

procs=("$gst_read" "$ff_read" "$gst_copy" "$ff_copy" "$gst_fake" "$gst_sync")
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
report "copy, gst-launch, into fakesink (no RTMP output)" "$gst_fake"
report "copy relay, gst-launch, rtmp2sink sync=true" "$gst_sync"
