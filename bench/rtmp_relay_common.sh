# shellcheck shell=bash disable=SC2034  # work, port and pids are set here for the caller
# Sourced by bench/relay_cpu.sh and bench/remux_floor.sh: their scratch directory, input clip,
# RTMP server and CPU counters.

# relay_setup: $work (a scratch directory), $port (nginx-rtmp's) and the pids array; on exit
# every pid in it is killed and the directory removed.
relay_setup() {
  work="$(mktemp -d /tmp/livedub-bench.XXXXXX)"
  port=$((20000 + RANDOM % 20000))
  pids=()
  trap relay_cleanup EXIT
}
relay_cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}

# ticks PID: the process's CPU time so far (user + system), in clock ticks (getconf CLK_TCK).
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# switches PID: voluntary + involuntary context switches of all the process's threads so far.
switches() { cat /proc/"$1"/task/*/status 2>/dev/null | awk '/ctxt_switches/ {s += $2} END {print s + 0}'; }

# relay_clip SECONDS: $work/clip.flv, 720p30 H.264 3 Mb/s (keyframe every 2 s) + AAC 128 kb/s stereo.
relay_clip() {
  echo "bench: encoding a $1 s 720p30 test clip (one-off, not measured)"
  ffmpeg -v error -f lavfi -i "testsrc2=size=1280x720:rate=30" -f lavfi -i "sine=frequency=300:sample_rate=48000" \
    -t "$1" -c:v libx264 -preset veryfast -g 60 -b:v 3M -pix_fmt yuv420p -c:a aac -b:a 128k -ac 2 "$work/clip.flv"
}

# relay_nginx: nginx-rtmp on 127.0.0.1:$port, application "live" (the native stack's server).
relay_nginx() {
  cat >"$work/nginx.conf" <<CONF
daemon off; master_process off; worker_processes 1; pid $work/nginx.pid; error_log $work/nginx.log;
load_module /usr/lib/nginx/modules/ngx_rtmp_module.so;
events { worker_connections 64; }
rtmp { server { listen 127.0.0.1:$port; application live { live on; wait_key on; } } }
CONF
  nginx -p "$work" -c "$work/nginx.conf" -e "$work/nginx.log" &
  pids+=("$!")
  sleep 0.5
}
