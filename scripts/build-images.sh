#!/usr/bin/env bash
# Build the emulator's images; works with no container registry (docs/docker.md).
#
#   scripts/build-images.sh [IMAGE...]       IMAGE: emulator mlserver custom-mnist mmesh-example s3-server triton
#                                            (default: all; mmesh-example builds on the emulator image)
#   BASE_IMAGE=python:3.11-slim scripts/build-images.sh     online: upstream base image, packages from PyPI
#
# Offline (the default, when BASE_IMAGE is unset):
#   1. a Debian base image from `debootstrap --variant=minbase bookworm` + `docker import` (kept by its tag);
#   2. a wheelhouse on the host: `pip download --only-binary=:all: --python-version 3.11` of every image's
#      requirements in one resolution (kept until a requirements file changes);
#   3. modelmesh-emulator/python:3.11-offline: that base with Python in a venv and the wheelhouse as pip's only
#      source (PIP_NO_INDEX, PIP_FIND_LINKS), standing in for python:3.11-slim;
#   4. every image with --build-arg BASE_IMAGE=modelmesh-emulator/python:3.11-offline.
# The triton image's build context is a directory of its own: its requirements, the sources of the emulator's
# stand-in backends and, offline, their wheels (docker/triton-requirements.txt, --no-deps: nvidia-pytriton's
# 145 MB wheel and NumPy 1.x; docker/triton-standins-requirements.txt: onnxruntime, torch CPU, xgboost-cpu,
# lightgbm), bind-mounted while pip runs: they stay out of the shared base layer and out of the image.
# Each step is skipped when its result is up to date, and the layer cache makes rebuilds quick. Build logs:
# $MMEMU_BUILD_CACHE/build-*.log.
#
# Environment: MMEMU_BUILD_CACHE (default ~/.cache/modelmesh-emulator/build), PYTHON (for pip), DEBIAN_MIRROR
# (default: the archive this machine's apt uses, else debootstrap's default; scripts/debian-mirror.sh).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${MMEMU_BUILD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/modelmesh-emulator/build}
DEBIAN_IMAGE=modelmesh-emulator/debian:bookworm
OFFLINE_BASE=modelmesh-emulator/python:3.11-offline
PYTHON=${PYTHON:-$( [[ -x $ROOT/.venv/bin/python ]] && echo "$ROOT/.venv/bin/python" || echo python3 )}
ALL_IMAGES=(emulator mlserver custom-mnist mmesh-example s3-server triton)

log() { printf '[build-images] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# timed NAME CMD...: run CMD and report how long it took.
timed() {
    local name=$1 start=$SECONDS
    shift
    "$@"
    log "$name: $((SECONDS - start))s"
}

image_exists() { docker image inspect "$1" >/dev/null 2>&1; }

debian_image() {
    if image_exists "$DEBIAN_IMAGE"; then
        log "$DEBIAN_IMAGE: present"
        return
    fi
    local tarball=$CACHE/debian-bookworm.tar
    if [[ ! -s $tarball ]]; then
        command -v debootstrap >/dev/null || die "debootstrap is not installed (apt-get install debootstrap)"
        [[ $(id -u) == 0 ]] || die "debootstrap needs root to make $DEBIAN_IMAGE"
        local rootfs=$CACHE/rootfs mirror
        mirror=$("$ROOT/scripts/debian-mirror.sh") || die "no Debian mirror (set DEBIAN_MIRROR)"
        rm -rf "$rootfs" && mkdir -p "$rootfs"
        log "debootstrap bookworm from $mirror (about a minute)"
        debootstrap --variant=minbase --include=python3,python3-venv,libgomp1,ca-certificates \
            bookworm "$rootfs" "$mirror" >"$CACHE/debootstrap.log" 2>&1 \
            || die "debootstrap failed; see $CACHE/debootstrap.log"
        rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/archives/*.deb
        tar -C "$rootfs" -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
        rm -rf "$rootfs"
    fi
    docker import --change 'CMD ["/bin/bash"]' \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        "$tarball" "$DEBIAN_IMAGE" >/dev/null
}

# The emulator image's dependencies, read from pyproject.toml without those only the process launcher's runtimes
# use (docker/emulator.Dockerfile leaves out the same).
emulator_requirements() {
    "$PYTHON" -c "import tomllib, sys; print(*tomllib.load(open(sys.argv[1], 'rb'))['project']['dependencies'], sep='\n')" \
        "$ROOT/pyproject.toml" | grep -v -E '^(mlserver-xgboost|mlserver-lightgbm|openvino)\b'
}

wheelhouse() {
    local dir=$CACHE/wheelhouse requirements=$CACHE/requirements.txt
    {
        emulator_requirements
        cat "$ROOT/docker/mlserver-requirements.txt" "$ROOT/runtimes/custom-mnist/requirements.txt" \
            "$ROOT/docker/s3-server-requirements.txt"
        echo "setuptools>=68"  # the emulator's build backend
        echo "wheel"
    } | grep -v '^\s*#' | grep -v '^\s*$' >"$requirements"
    local key
    key=$(cat "$requirements" "$ROOT/docker/constraints.txt" | sha256sum | cut -d' ' -f1)
    if [[ -f $dir/.key && $(cat "$dir/.key") == "$key" ]]; then
        log "wheelhouse: up to date ($dir)"
        return
    fi
    rm -rf "$dir" && mkdir -p "$dir"
    local pip=("$PYTHON" -m pip download --quiet --disable-pip-version-check --only-binary=:all:
               --python-version 3.11 --dest "$dir")
    "${pip[@]}" -r "$requirements" -c "$ROOT/docker/constraints.txt"
    # Without its `xgboost` dependency (CUDA libraries); docker/mlserver.Dockerfile installs it --no-deps.
    "${pip[@]}" --no-deps mlserver-xgboost==1.7.1
    echo "$key" >"$dir/.key"
    log "wheelhouse: $(find "$dir" -name '*.whl' | wc -l) wheels, $(du -sh "$dir" | cut -f1)"
}

# The triton image's build context offline: its requirements and their wheels.
triton_wheelhouse() {
    local dir=$CACHE/wheelhouse-triton requirements=$ROOT/docker/triton-requirements.txt
    local standins=$ROOT/docker/triton-standins-requirements.txt key
    key=$(cat "$requirements" "$standins" | sha256sum | cut -d' ' -f1)
    if [[ -f $dir/.key && $(cat "$dir/.key") == "$key" ]]; then
        log "triton wheelhouse: up to date ($dir)"
        return
    fi
    rm -rf "$dir" && mkdir -p "$dir"
    local pip=("$PYTHON" -m pip download --quiet --disable-pip-version-check --only-binary=:all:
               --python-version 3.11 --dest "$dir")
    "${pip[@]}" --no-deps -r "$requirements"
    "${pip[@]}" -r "$standins"
    echo "$key" >"$dir/.key"
    log "triton wheelhouse: $(du -sh "$dir" | cut -f1)"
}

# The triton image's build context: the wheelhouse (offline) or an empty directory (online), with the
# requirements files and the stand-ins' sources, refreshed on every build.
triton_context() {
    local dir=$1
    mkdir -p "$dir"
    cp "$ROOT/docker/triton-requirements.txt" "$ROOT/docker/triton-standins-requirements.txt" "$dir/"
    rm -rf "$dir/triton_standins" && mkdir "$dir/triton_standins"
    cp "$ROOT"/emulator/launchers/triton_standins/*.py "$dir/triton_standins/"
}

# docker_build LOG ARGS...: `docker build ARGS...`, its output in LOG, shown when it fails.
docker_build() {
    local log=$1
    shift
    if ! docker build "$@" >"$log" 2>&1; then
        tail -n 40 "$log" >&2
        die "docker build $* failed (full log: $log)"
    fi
}

offline_base() {
    docker_build "$CACHE/build-offline-base.log" -t "$OFFLINE_BASE" --build-arg DEBIAN_IMAGE="$DEBIAN_IMAGE" \
        -f "$ROOT/docker/python-offline.Dockerfile" "$CACHE/wheelhouse"
}

build() {
    local name=$1 tag dockerfile context
    case $name in
        emulator) tag=modelmesh-emulator:latest; dockerfile=docker/emulator.Dockerfile; context=. ;;
        mlserver) tag=modelmesh-emulator/mlserver:1.7.1; dockerfile=docker/mlserver.Dockerfile; context=docker ;;
        custom-mnist) tag=custom-mnist-runtime:latest; dockerfile=runtimes/custom-mnist/Dockerfile
                      context=runtimes/custom-mnist ;;
        mmesh-example) tag=mmesh-example-runtime:latest; dockerfile=runtimes/mmesh-example/Dockerfile
                       context=runtimes/mmesh-example ;;
        s3-server) tag=modelmesh-emulator/s3-server:latest; dockerfile=docker/s3-server.Dockerfile; context=docker ;;
        triton) tag=modelmesh-emulator/tritonserver:2.51; dockerfile=docker/triton.Dockerfile
                # offline: the wheels are in the context (online, pip reaches PyPI)
                context=$CACHE/triton-context
                [[ $BASE_IMAGE != "$OFFLINE_BASE" ]] || context=$CACHE/wheelhouse-triton
                triton_context "$context" ;;
        *) die "unknown image '$name' (images: ${ALL_IMAGES[*]})" ;;
    esac
    log "building $tag"
    docker_build "$CACHE/build-$name.log" -t "$tag" --build-arg BASE_IMAGE="$BASE_IMAGE" \
        -f "$ROOT/$dockerfile" "$([[ $context == /* ]] && echo "$context" || echo "$ROOT/$context")"
}

main() {
    local images=("$@")
    [[ ${#images[@]} -gt 0 ]] || images=("${ALL_IMAGES[@]}")
    docker info >/dev/null 2>&1 || die "no Docker daemon answers (start dockerd, or see docs/docker.md)"
    mkdir -p "$CACHE"
    local start=$SECONDS
    if [[ -z ${BASE_IMAGE:-} ]]; then
        timed "base image $DEBIAN_IMAGE" debian_image
        timed "wheelhouse" wheelhouse
        timed "offline base $OFFLINE_BASE" offline_base
        [[ " ${images[*]} " != *" triton "* ]] || timed "triton wheelhouse" triton_wheelhouse
        BASE_IMAGE=$OFFLINE_BASE
    fi
    # In parallel: BuildKit shares the base layers, and pip's unpacking overlaps another build's. Images built
    # on the emulator image come after it.
    local name pids=() failed=0 later=()
    for name in "${images[@]}"; do
        if [[ $name == mmesh-example ]]; then
            later+=("$name")
            continue
        fi
        timed "image $name" build "$name" &
        pids+=($!)
    done
    for name in "${pids[@]}"; do
        wait "$name" || failed=1
    done
    ((failed == 0)) || die "some images failed to build (see above)"
    for name in "${later[@]}"; do
        timed "image $name" build "$name"
    done
    log "done in $((SECONDS - start))s (BASE_IMAGE=$BASE_IMAGE)"
}

main "$@"
