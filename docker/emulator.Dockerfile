# The emulator image: `modelmesh-emulator serve` with the docker launcher, which starts runtime containers
# through the host's Docker daemon (mount /var/run/docker.sock). See docs/docker.md.
#   docker build -t modelmesh-emulator:latest -f docker/emulator.Dockerfile .
# Without a registry: scripts/build-images.sh (BASE_IMAGE = a local Python base with a wheelhouse).
ARG BASE_IMAGE=python:3.11-slim

# The dependency list alone, so that its install layer is reused until the list itself changes. Without what
# only the process launcher's runtimes use (mlserver-xgboost and its CUDA-bound xgboost, mlserver-lightgbm,
# openvino; scripts/build-images.sh leaves them out of the wheelhouse too): this image runs runtimes in containers.
FROM ${BASE_IMAGE} AS requirements
COPY pyproject.toml /tmp/
RUN python -c "import re, tomllib; print(*(d for d in tomllib.load(open('/tmp/pyproject.toml', 'rb'))['project']['dependencies'] if not re.match(r'(mlserver-xgboost|mlserver-lightgbm|openvino)\\b', d)), sep='\n')" \
        > /tmp/requirements.txt

FROM ${BASE_IMAGE}
WORKDIR /app
COPY --from=requirements /tmp/requirements.txt /tmp/requirements.txt
COPY docker/constraints.txt /tmp/constraints.txt
RUN pip install --no-cache-dir -r /tmp/requirements.txt -c /tmp/constraints.txt

COPY pyproject.toml ./
COPY README.m[d] ./
COPY emulator ./emulator
RUN pip install --no-cache-dir --no-deps . && rm -rf build

# The examples, so that the image serves something by itself; docker-compose.yml mounts the working tree's.
COPY runtimes ./runtimes
COPY sample_models ./sample_models
COPY docker/seed_bucket.py ./docker/

# The cache dir must be a volume or bind mount: runtime containers mount their /models from it through the
# host's daemon, which needs the host-side path (the launcher finds it by inspecting this container).
ENV MMEMU_HOST=0.0.0.0 \
    MMEMU_LAUNCHER=docker \
    MMEMU_CACHE_DIR=/var/lib/modelmesh-emulator
VOLUME /var/lib/modelmesh-emulator
EXPOSE 8033 8008
CMD ["modelmesh-emulator", "serve", "/app/runtimes", "/app/sample_models"]
