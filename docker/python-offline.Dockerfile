# Stands in for python:3.11-slim where no container registry is reachable (scripts/build-images.sh builds it).
# From a Debian rootfs made by debootstrap and `docker import`: Python in a venv on PATH, as /usr/local is in
# python:3.11-slim, and the host-built wheelhouse (this build's context) as pip's only package source, so the
# other Dockerfiles' plain `pip install` works unchanged and offline.
ARG DEBIAN_IMAGE=modelmesh-emulator/debian:bookworm
FROM ${DEBIAN_IMAGE}

RUN python3 -m venv /opt/python
ENV PATH=/opt/python/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    LANG=C.UTF-8 \
    PIP_NO_INDEX=1 \
    PIP_FIND_LINKS=/wheels \
    PIP_DISABLE_PIP_VERSION_CHECK=1

COPY . /wheels/
CMD ["python3"]
