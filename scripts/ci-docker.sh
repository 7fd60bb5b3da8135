#!/usr/bin/env bash
# Docker for CI on a fresh machine (.ci/run), and its undoing.
#
#   scripts/ci-docker.sh start   install the engine, debootstrap, Compose v2 and Buildx (scripts/install-docker.sh),
#                                start dockerd in the background unless a daemon already answers (log in
#                                $MMEMU_CI_STATE/dockerd.log), then build the images (scripts/build-images.sh)
#   scripts/ci-docker.sh stop    remove runtime containers left behind and stop the dockerd that `start` started;
#                                a daemon that was already running is left alone
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
STATE=${MMEMU_CI_STATE:-/tmp/modelmesh-emulator-ci}
PIDFILE=$STATE/dockerd.pid
LOG=$STATE/dockerd.log

log() { printf '[ci-docker] %s\n' "$*" >&2; }

start() {
    mkdir -p "$STATE"
    local begin=$SECONDS
    "$ROOT/scripts/install-docker.sh"
    log "install: $((SECONDS - begin))s"
    if docker info >/dev/null 2>&1; then
        log "a Docker daemon already answers; using it"
    else
        log "starting dockerd (log: $LOG)"
        nohup dockerd >"$LOG" 2>&1 </dev/null &
        echo $! >"$PIDFILE"
        local waited=0
        until docker info >/dev/null 2>&1; do
            if ((waited >= 60)) || ! kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
                tail -n 30 "$LOG" >&2
                log "error: dockerd did not come up"
                exit 1
            fi
            sleep 1
            waited=$((waited + 1))
        done
        log "dockerd up after ${waited}s"
    fi
    begin=$SECONDS
    "$ROOT/scripts/build-images.sh"
    log "images: $((SECONDS - begin))s"
}

stop() {
    [[ -f $PIDFILE ]] || return 0
    local pid
    pid=$(cat "$PIDFILE")
    local leftovers
    leftovers=$(docker ps -aq --filter label=modelmesh-emulator.session 2>/dev/null || true)
    if [[ -n $leftovers ]]; then
        log "removing runtime containers left behind: $(echo "$leftovers" | wc -l)"
        # shellcheck disable=SC2086
        docker rm -f $leftovers >/dev/null 2>&1 || true
    fi
    log "stopping dockerd ($pid)"
    kill -TERM "$pid" 2>/dev/null || true
    local waited=0
    while kill -0 "$pid" 2>/dev/null && ((waited < 30)); do
        sleep 1
        waited=$((waited + 1))
    done
    kill -KILL "$pid" 2>/dev/null || true
    rm -f "$PIDFILE"
}

case ${1:-} in
    start) start ;;
    stop) stop ;;
    *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
