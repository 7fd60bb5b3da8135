#!/usr/bin/env bash
# Install what the Docker side needs on Debian bookworm, as root: the Docker engine (docker.io), debootstrap (the
# offline base image), and Compose v2 and Buildx. Bookworm ships only Compose v1, so the docker-compose and
# docker-buildx packages come from Debian trixie: they depend on libc6 only and install on bookworm. They are
# fetched with a private apt list, so the machine's apt sources stay bookworm-only, from the archive those sources
# use (DEBIAN_MIRROR overrides it; scripts/debian-mirror.sh). Idempotent; root is needed only when something is
# missing.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
log() { printf '[install-docker] %s\n' "$*" >&2; }

export DEBIAN_FRONTEND=noninteractive
need_root() { [[ $(id -u) == 0 ]] || { log "error: installing $* needs root"; exit 1; }; }

missing=()
command -v dockerd >/dev/null || missing+=(docker.io)
command -v debootstrap >/dev/null || missing+=(debootstrap)
if [[ ${#missing[@]} -gt 0 ]]; then
    need_root "${missing[@]}"
    log "apt-get install ${missing[*]}"
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

trixie_packages=()
docker compose version 2>/dev/null | grep -q 'version v\?2' || trixie_packages+=(docker-compose)
docker buildx version >/dev/null 2>&1 || trixie_packages+=(docker-buildx)
if [[ ${#trixie_packages[@]} -gt 0 ]]; then
    need_root "${trixie_packages[@]}"
    mirror=$("$HERE/debian-mirror.sh") || { log "error: no Debian mirror (set DEBIAN_MIRROR)"; exit 1; }
    log "installing ${trixie_packages[*]} from Debian trixie ($mirror)"
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    mkdir -p "$work/lists/partial"
    echo "deb $mirror trixie main" >"$work/sources.list"
    apt_trixie=(-qq -o Dir::Etc::sourcelist="$work/sources.list" -o Dir::Etc::sourceparts=-
                -o Dir::State::Lists="$work/lists" -o APT::Sandbox::User=root)
    apt-get "${apt_trixie[@]}" update
    (cd "$work" && apt-get "${apt_trixie[@]}" download "${trixie_packages[@]}")
    dpkg -i "$work"/*.deb >/dev/null
fi
log "$(dockerd --version); $(docker compose version); $(docker buildx version)"
