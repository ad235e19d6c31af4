#!/bin/sh
# One image, four services and two commands: the first argument picks which process runs.
# `exec` makes the service PID 1's direct replacement so SIGTERM reaches it.
set -eu
service="${1:-}"
[ $# -gt 0 ] && shift
case "$service" in
  broker)      exec bun brokers/main.ts "$@" ;;
  streamer)    exec bun services/streamer/main.ts "$@" ;;
  collector)   exec bun services/collector/main.ts "$@" ;;
  api)         exec bun services/api/main.ts "$@" ;;
  migrate)     exec bun services/migrate/main.ts "$@" ;;
  broker-cli)  exec bun services/broker-cli/main.ts "$@" ;;
  healthcheck)
    # Only one service runs per container; whichever port it serves answers.
    for port in "${API_PORT:-8080}" "${BROKER_PORT:-9092}" "${STREAMER_PORT:-9500}" "${COLLECTOR_PORT:-9600}"; do
      bun -e "const r = await fetch('http://127.0.0.1:$port/health', { signal: AbortSignal.timeout(2000) }).catch(() => null); process.exit(r?.ok ? 0 : 1)" && exit 0
    done
    exit 1 ;;
  *)
    echo "usage: <broker|streamer|collector|api|migrate|broker-cli|healthcheck> [args]" >&2
    exit 64 ;;
esac
