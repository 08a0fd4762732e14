#!/bin/sh
# Entrypoint of the livedub MediaMTX image: refuses to start without the credentials that keep
# strangers from stopping, hijacking or replacing streams, then runs MediaMTX.
#   LIVEDUB_ORCHESTRATOR_TOKEN   the hook's credential (the orchestrator refuses hooks without it)
#   MTX_AUTHINTERNALUSERS_1_PASS the stream workers' output password (LIVEDUB_WORKER_PUBLISH_PASS
#                                in .env): without it anyone could publish live/<id>/out
set -eu
missing=""
[ -n "${LIVEDUB_ORCHESTRATOR_TOKEN:-}" ] || missing="$missing LIVEDUB_ORCHESTRATOR_TOKEN"
[ -n "${MTX_AUTHINTERNALUSERS_1_PASS:-}" ] || missing="$missing LIVEDUB_WORKER_PUBLISH_PASS"
if [ -n "$missing" ]; then
  echo "livedub-mediamtx: set$missing in .env (e.g. openssl rand -hex 24); see .env.example" >&2
  exit 2
fi
exec /mediamtx "$@"
