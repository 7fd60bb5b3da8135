# An S3-compatible server (moto) for docker-compose.offline.yml, where the MinIO image cannot be pulled.
#   docker build -t modelmesh-emulator/s3-server:latest -f docker/s3-server.Dockerfile docker
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}

COPY s3-server-requirements.txt /opt/s3-server/requirements.txt
RUN pip install --no-cache-dir -r /opt/s3-server/requirements.txt

EXPOSE 9000
CMD ["moto_server", "-H", "0.0.0.0", "-p", "9000"]
