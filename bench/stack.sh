# Sourced by the bench scripts: the native stack (scripts/stack) on random ports, CPU engines.
# Sets rtmp_port, orchestrator_port, sts_port and stack_pid; the caller's EXIT trap calls
# stop_stack when stack_pid is set.
#   start_stack RUN_DIR LOG [VAR=value ...]   (extra environment for scripts/stack)

start_stack() {
  local run_dir="$1" log="$2"; shift 2
  rtmp_port=$((20000 + RANDOM % 10000)); orchestrator_port=$((rtmp_port + 1)); sts_port=$((rtmp_port + 2))
  env LIVEDUB_BUILD_DIR="$build_dir" LIVEDUB_RUN_DIR="$run_dir" LIVEDUB_RTMP_PORT=$rtmp_port \
    LIVEDUB_ORCHESTRATOR_PORT=$orchestrator_port LIVEDUB_STS_PORT=$sts_port LIVEDUB_STS_MODE=cpu STS_SERVICE_URL='' \
    "$@" setsid bash "$repo_root/scripts/stack" >"$log" 2>&1 &
  stack_pid=$!
  disown "$stack_pid"  # stopped by stop_stack; no job-control noise
  for _ in $(seq 120); do grep -q "stack is up" "$log" 2>/dev/null && return 0; sleep 0.5; done
  echo "bench: the stack did not come up:" >&2
  tail -20 "$log" >&2
  return 1
}

stop_stack() {  # TERM, as a service manager stops it (a background job ignores INT); killed after 30 s
  kill -TERM "$stack_pid" 2>/dev/null || true
  for _ in $(seq 60); do kill -0 "$stack_pid" 2>/dev/null || break; sleep 0.5; done
  kill -KILL -- "-$stack_pid" 2>/dev/null || true
  stack_pid=""
}
