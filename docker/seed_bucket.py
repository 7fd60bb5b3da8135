"""Upload a local S3 tree to an S3 server, creating the buckets: the one-shot job of docker-compose.yml.

    python seed_bucket.py ROOT     # every file ROOT/<bucket>/<key> becomes object <key> of bucket <bucket>

The server is named by S3_ENDPOINT (e.g. http://minio:9000), S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY; it is
retried for up to S3_WAIT_S seconds (default 60) while it starts.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

from minio import Minio

__all__ = ["main", "seed"]


def seed(client: Minio, root: Path) -> int:
    uploaded = 0
    for bucket_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        bucket = bucket_dir.name
        if not client.bucket_exists(bucket):
            client.make_bucket(bucket)
        for path in sorted(p for p in bucket_dir.rglob("*") if p.is_file()):
            key = path.relative_to(bucket_dir).as_posix()
            client.fput_object(bucket, key, str(path))
            print(f"uploaded s3://{bucket}/{key} ({path.stat().st_size} bytes)", flush=True)
            uploaded += 1
    return uploaded


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    endpoint = urlsplit(os.environ["S3_ENDPOINT"])
    client = Minio(endpoint.netloc, access_key=os.environ["S3_ACCESS_KEY_ID"],
                   secret_key=os.environ["S3_SECRET_ACCESS_KEY"], secure=endpoint.scheme == "https")
    deadline = time.monotonic() + float(os.environ.get("S3_WAIT_S", "60"))
    while True:
        try:
            count = seed(client, Path(argv[0]))
            break
        except OSError as exc:  # urllib3's connection errors while the server starts
            if time.monotonic() > deadline:
                print(f"S3 server {endpoint.geturl()} did not answer: {exc}", file=sys.stderr)
                return 1
            time.sleep(1)
    print(f"{count} objects uploaded to {endpoint.geturl()}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
