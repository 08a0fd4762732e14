#!/bin/sh
# MediaMTX hook: tells the stream orchestrator that a path became ready or not ready, so it
# starts or stops that stream's dubbing worker. In mediamtx.yml:
#   runOnReady:    /hooks/notify-orchestrator.sh ready
#   runOnNotReady: /hooks/notify-orchestrator.sh not-ready
# MediaMTX passes MTX_PATH, MTX_SOURCE_TYPE, MTX_SOURCE_ID and MTX_QUERY in the environment.
# Plain POSIX sh (the MediaMTX image has busybox, no bash, no jq) plus curl.
#
# Settings: LIVEDUB_ORCHESTRATOR_URL (default http://stream-orchestration:8090),
# LIVEDUB_ORCHESTRATOR_TOKEN (required: the orchestrator refuses hooks without it),
# LIVEDUB_HOOK_ATTEMPTS (default 5), LIVEDUB_HOOK_TIMEOUT_S (per attempt, default 5).
# Exit status: 0 delivered, 1 not delivered or rejected, 2 wrong usage.
set -eu

me=notify-orchestrator
event=${1:-}
case "$event" in
  ready | not-ready) ;;
  *)
    echo "usage: $0 ready|not-ready" >&2
    exit 2
    ;;
esac
if [ -z "${MTX_PATH:-}" ]; then
  echo "$me: MTX_PATH is not set; run this from a MediaMTX runOnReady/runOnNotReady hook" >&2
  exit 2
fi

if [ -z "${LIVEDUB_ORCHESTRATOR_TOKEN:-}" ]; then
  echo "$me: LIVEDUB_ORCHESTRATOR_TOKEN is not set; the orchestrator would refuse the hook" >&2
  exit 2
fi

base_url=${LIVEDUB_ORCHESTRATOR_URL:-http://stream-orchestration:8090}
attempts=${LIVEDUB_HOOK_ATTEMPTS:-5}
timeout_s=${LIVEDUB_HOOK_TIMEOUT_S:-5}
url="${base_url%/}/v1/hooks/mediamtx/$event"

# A JSON string literal. Keeps printable ASCII only (paths, ids and URL queries are ASCII; this
# drops control characters, which JSON would need escaped), then escapes backslash and quote.
json_string() {
  printf '"%s"' "$(printf '%s' "$1" | LC_ALL=C tr -cd ' -~' | sed 's/[\\"]/\\&/g')"
}

body=$(printf '{"path":%s,"source_type":%s,"source_id":%s,"query":%s}' \
  "$(json_string "$MTX_PATH")" \
  "$(json_string "${MTX_SOURCE_TYPE:-}")" \
  "$(json_string "${MTX_SOURCE_ID:-}")" \
  "$(json_string "${MTX_QUERY:-}")")

attempt=1
while :; do
  # The status code goes on a line of its own after the reply body.
  # The credential goes to curl on stdin (a config line), never on its command line, where
  # any local user could read it in the process list.
  if reply=$(printf 'header = "Authorization: Bearer %s"\n' "$LIVEDUB_ORCHESTRATOR_TOKEN" |
    curl --config - --silent --show-error --max-time "$timeout_s" \
      --header 'Content-Type: application/json' --data-binary "$body" \
      --write-out '\n%{http_code}' "$url"); then
    status=$(printf '%s\n' "$reply" | tail -n 1)
    reply_body=$(printf '%s\n' "$reply" | sed '$d')
    case "$status" in
      2??) exit 0 ;;
      4??)
        # The orchestrator refused the event (e.g. an invalid stream id): retrying cannot help.
        echo "$me: $event for $MTX_PATH rejected with HTTP $status: $reply_body" >&2
        exit 1
        ;;
    esac
    problem="HTTP $status: $reply_body"
  else
    problem="curl exit status $?"
  fi
  if [ "$attempt" -ge "$attempts" ]; then
    echo "$me: $event for $MTX_PATH not delivered to $url after $attempt attempt(s): $problem" >&2
    exit 1
  fi
  attempt=$((attempt + 1))
  sleep 1
done
