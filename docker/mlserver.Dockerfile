# The MLServer runtime image for ModelMesh's built-in mlserver-1.x ServingRuntime (sklearn, xgboost, lightgbm).
# The emulator runs it in place of seldonio/mlserver (see image_overrides in docs/docker.md).
#   docker build -t modelmesh-emulator/mlserver:1.7.1 -f docker/mlserver.Dockerfile docker
# Without a registry: scripts/build-images.sh (BASE_IMAGE = a local Python base with a wheelhouse).
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}

# LightGBM links OpenMP's runtime, which slim images lack (the offline base has it already).
RUN if ! ldconfig -p | grep -q libgomp.so.1; then \
        apt-get update && apt-get install -y --no-install-recommends libgomp1 && rm -rf /var/lib/apt/lists/*; \
    fi

COPY mlserver-requirements.txt /opt/mlserver/requirements.txt
RUN pip install --no-cache-dir -r /opt/mlserver/requirements.txt \
    && pip install --no-cache-dir --no-deps mlserver-xgboost==1.7.1

# seldonio/mlserver's defaults; ModelMesh's ServingRuntime sets its own values for most of them.
ENV MLSERVER_MODELS_DIR=/models/_mlserver_models \
    MLSERVER_GRPC_PORT=8001 \
    MLSERVER_HTTP_PORT=8002 \
    MLSERVER_LOAD_MODELS_AT_STARTUP=false \
    MLSERVER_MODEL_NAME=dummy-model
WORKDIR /opt/mlserver
# exec: MLServer itself receives the stop signal and shuts down gracefully.
CMD ["sh", "-c", "exec mlserver start \"$MLSERVER_MODELS_DIR\""]
