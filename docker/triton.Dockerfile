# The Triton runtime image for ModelMesh's built-in triton-2.x ServingRuntime: the real `tritonserver` (2.51) and
# its Python backend from PyPI's nvidia-pytriton, laid out as in nvcr.io/nvidia/tritonserver (binary on PATH,
# backends in /opt/tritonserver/backends), so the manifest's `exec tritonserver --model-repository=...` runs
# unchanged. The emulator runs it in place of nvcr.io/nvidia/tritonserver:23.04-py3 (image_overrides,
# docs/docker.md). CPU only. Triton's onnxruntime, pytorch and fil backends are the emulator's stand-ins
# (Python-based backends running onnxruntime, torch, xgboost and lightgbm: docs/runtimes.md); there is no
# TensorFlow or TensorRT backend.
#   scripts/build-images.sh triton                                        (offline: the wheels are in the context)
#   BASE_IMAGE=python:3.11-slim scripts/build-images.sh triton            (PyPI)
# The build context is made by scripts/build-images.sh: triton-requirements.txt, triton-standins-requirements.txt,
# the stand-ins' sources (triton_standins/, from emulator/launchers/triton_standins/) and, offline, the wheels;
# it is bind-mounted while pip runs, so the wheels stay out of the image.
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}

# The Python backend stub embeds libpython3.x.so, which Debian's python3 lacks (python:3.11-slim has it).
RUN version=$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])') \
    && if ! ldconfig -p | grep -q "libpython$version.so.1.0"; then \
        apt-get update && apt-get install -y --no-install-recommends "libpython$version" \
        && apt-get clean && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin; \
    fi

# --no-deps: the server binary needs none of pytriton's Python dependencies. The backend stub for this Python
# is the only one kept; the Python backend embeds the interpreter first on PATH, so models import the packages
# of this image's Python environment (NumPy 1.x here).
RUN --mount=type=bind,target=/tmp/context \
    pip install --no-cache-dir --no-deps --find-links /tmp/context -r /tmp/context/triton-requirements.txt \
    && site=$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])') \
    && version=$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])') \
    && stub=$site/pytriton/tritonserver/python_backend_stubs/$version/triton_python_backend_stub \
    && test -x "$stub" \
    && find "$site/pytriton/tritonserver/python_backend_stubs" -mindepth 1 -maxdepth 1 ! -name "$version" \
        -exec rm -rf {} + \
    && mkdir -p /opt/tritonserver/bin /opt/tritonserver/backends/python \
    && ln -s "$site/pytriton/tritonserver/bin/tritonserver" /opt/tritonserver/bin/tritonserver \
    && ln -s "$site/pytriton/tritonserver/caches" /opt/tritonserver/caches \
    && ln -s "$site/nvidia_pytriton.libs" /opt/tritonserver/lib \
    && cp -r "$site"/pytriton/tritonserver/backends/python/. /opt/tritonserver/backends/python/ \
    && ln -s "$stub" /opt/tritonserver/backends/python/ \
    && missing=$(LD_LIBRARY_PATH=/opt/tritonserver/lib ldd /opt/tritonserver/bin/tritonserver "$stub" \
        /opt/tritonserver/backends/python/libtriton_python.so | grep 'not found' || true) \
    && if [ -n "$missing" ]; then echo "tritonserver: missing libraries: $missing" >&2; exit 1; fi

# The stand-ins: a Python-based backend is <backends>/<name>/model.py, run by the Python backend, whose library
# must then lie inside its directory (hence the copy above, not a link). ~1.3 GB, torch's CPU wheel most of it.
RUN --mount=type=bind,target=/tmp/context \
    pip install --no-cache-dir --find-links /tmp/context -r /tmp/context/triton-standins-requirements.txt \
    && for backend in onnxruntime pytorch fil; do \
        mkdir -p "/opt/tritonserver/backends/$backend" \
        && cp "/tmp/context/triton_standins/$backend.py" "/opt/tritonserver/backends/$backend/model.py" \
        && cp /tmp/context/triton_standins/standin_model.py "/opt/tritonserver/backends/$backend/"; \
    done

# The backends' libraries are found through LD_LIBRARY_PATH: their RPATH is relative to the wheel's layout.
ENV PATH=/opt/tritonserver/bin:${PATH} \
    LD_LIBRARY_PATH=/opt/tritonserver/lib
WORKDIR /opt/tritonserver
EXPOSE 8000 8001 8002
CMD ["tritonserver", "--model-repository=/models"]
