"""Load benchmark: the platform as it runs in production, on this machine, under 10 clients.

Starts gunicorn, two Celery workers, a private Redis, a fresh PostgreSQL database and a
SeaweedFS S3 server, all on 127.0.0.1, in production mode (DEBUG off). Then CLIENTS threads
upload VIDEOS videos through the REST API with a token and poll them until done. Prints how
many finished, the API's p50/p95 latency while the workers were busy, the errors, and checks
that every upload has exactly one finished analysis whose files are all in the bucket.

    .venv/bin/python bench/load.py [--videos 50] [--clients 10] [--deadline 900]

Needs redis-server and a PostgreSQL server on 127.0.0.1:5432 (DFD_BENCH_DATABASE_URL to use
another); both are what `make test` installs. Bounded: stops at --deadline seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests import processes  # noqa: E402  (the same process helpers the tests use)
from tests.videos import face_video  # noqa: E402

PASSWORD = "load-test-password-9"


def run(args: list[str], env: dict, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=REPO, env=env, check=True, capture_output=True, text=True, **kwargs)


def request(method: str, url: str, token: str = "", body: bytes | None = None, content_type: str = ""):
    headers = {"Authorization": f"Token {token}"} if token else {}
    if content_type:
        headers["Content-Type"] = content_type
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=body, method=method, headers=headers),
                                    timeout=60) as response:
            payload, status, location = response.read(), response.status, response.headers.get("Location")
    except urllib.error.HTTPError as error:
        payload, status, location = error.read(), error.code, None
    return status, payload, location, time.perf_counter() - started


def multipart(fields: dict[str, str], file_name: str, content: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
             for k, v in fields.items()]
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{file_name}"\r\n'
                 f"Content-Type: video/mp4\r\n\r\n".encode() + content + b"\r\n")
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))] if ordered else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--videos", type=int, default=50)
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--frames", type=int, default=10)
    parser.add_argument("--deadline", type=float, default=900, help="seconds before the run gives up")
    options = parser.parse_args()

    base_db = os.environ.get("DFD_BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    db_name = f"dfd_load_{os.getpid()}"
    work = Path(tempfile.mkdtemp(prefix="dfd-load-"))
    procs: list[subprocess.Popen] = []
    print(f"==> work folder {work}", flush=True)

    subprocess.run(["psql", base_db, "-qc", f"CREATE DATABASE {db_name}"], check=True)
    redis_port, web_port = processes.free_port(), processes.free_port()
    procs.append(subprocess.Popen(["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
                                   "--appendonly", "no", "--dir", str(work)], stdout=subprocess.DEVNULL))
    processes.wait_until(lambda: processes.port_open("127.0.0.1", redis_port), 10, "redis")
    (work / "s3").mkdir()
    try:
        with processes.seaweedfs_s3(work / "s3", bucket="dfd-load") as s3:
            env = processes.django_env(
                DJANGO_DEBUG="0", DJANGO_SECRET_KEY=secrets.token_urlsafe(50), DJANGO_ALLOWED_HOSTS="127.0.0.1",
                DJANGO_SECURE_SSL_REDIRECT="0", DFD_VAR_DIR=str(work / "var"),
                DATABASE_URL=base_db.rsplit("/", 1)[0] + f"/{db_name}",
                CELERY_BROKER_URL=f"redis://127.0.0.1:{redis_port}/0",
                DJANGO_CACHE_URL=f"redis://127.0.0.1:{redis_port}/1",
                STORAGE_BACKEND="s3", **{k: v for k, v in s3.items() if k != "client"},
                DFD_MODELS_DIR=str(work / "models"), DFD_MAX_RUNNING_PER_USER="1000",
                DFD_MAX_UPLOADS_PER_DAY="1000", DFD_API_THROTTLE_USER="100000/hour",
                DFD_API_THROTTLE_UPLOADS="100000/day", DJANGO_STATIC_ROOT=str(work / "static"),
            )
            print("==> migrate, collectstatic, detector, user", flush=True)
            run([sys.executable, "manage.py", "migrate", "--no-input"], env)
            run([sys.executable, "manage.py", "collectstatic", "--no-input"], env)
            checkpoint = next((p for p in sorted((REPO / "models").glob("*.pt"))), None)
            if checkpoint is None:  # no default detector in this checkout: a random-weight one
                run([sys.executable, "-c", (
                    "import sys; from detection.engine.model import BackboneLSTM;"
                    "from detection.engine.checkpoint import CheckpointMetadata, save_checkpoint;"
                    "save_checkpoint(BackboneLSTM('temporal', 32), sys.argv[1],"
                    " CheckpointMetadata(variant='temporal', hidden_size=32))"), str(work / "random.pt")], env)
                checkpoint = work / "random.pt"
            run([sys.executable, "manage.py", "install_model", str(checkpoint), "--default"], env)
            run([sys.executable, "manage.py", "shell", "-c",
                 f"from django.contrib.auth.models import User; User.objects.create_user('load', password='{PASSWORD}')"],
                env)

            print("==> gunicorn (3 processes) and two Celery workers", flush=True)
            log = open(work / "services.log", "ab")
            procs.append(subprocess.Popen([sys.executable, "-m", "gunicorn", "dfdsite.wsgi", "--workers", "3",
                                           "--bind", f"127.0.0.1:{web_port}", "--timeout", "120"],
                                          cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT))
            for number in (1, 2):
                procs.append(subprocess.Popen(
                    [sys.executable, "-m", "celery", "-A", "dfdsite", "worker", "--concurrency", "1",
                     "--hostname", f"load{number}@%h", "--without-gossip", "--without-mingle", "--loglevel", "WARNING"],
                    cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT))
            api = f"http://127.0.0.1:{web_port}/api/v1"
            processes.wait_until(lambda: processes.port_open("127.0.0.1", web_port), 60, "gunicorn")
            status, payload, _, _ = request("POST", f"{api}/auth/token/",
                                            body=f"username=load&password={PASSWORD}&name=bench".encode(),
                                            content_type="application/x-www-form-urlencoded")
            assert status == 201, payload
            token = json.loads(payload)["token"]
            video = face_video(work / "clip.mp4", width=480, height=360, seconds=2).read_bytes()
            return measure(api, token, video, options, s3, env)
    finally:
        for proc in reversed(procs):
            processes.stop_process(proc)
        subprocess.run(["psql", base_db, "-qc", f"DROP DATABASE IF EXISTS {db_name} WITH (FORCE)"], check=False)


def measure(api: str, token: str, video: bytes, options, s3, env) -> int:
    uploads: list[tuple[int, str | None]] = []  # (status, Location)
    latencies: dict[str, list[float]] = {"upload": [], "poll": [], "list": []}
    errors: list[str] = []
    lock = threading.Lock()
    deadline = time.monotonic() + options.deadline
    counter = iter(range(options.videos))

    def client():
        mine = []
        while time.monotonic() < deadline:
            with lock:
                number = next(counter, None)
            if number is None:
                break
            body, content_type = multipart({"frames": str(options.frames)}, f"clip-{number:03d}.mp4", video)
            status, payload, location, seconds = request("POST", f"{api}/analyses/", token, body, content_type)
            with lock:
                latencies["upload"].append(seconds)
                uploads.append((status, location))
                if status != 202:
                    errors.append(f"upload {number}: HTTP {status} {payload[:200]!r}")
            if location:
                mine.append(location)
        pending = list(mine)
        while pending and time.monotonic() < deadline:
            for location in list(pending):
                status, payload, _, seconds = request("GET", location, token)
                with lock:
                    latencies["poll"].append(seconds)
                if status != 200:
                    with lock:
                        errors.append(f"poll: HTTP {status}")
                elif json.loads(payload)["finished"]:
                    pending.remove(location)
            status, _, _, seconds = request("GET", f"{api}/analyses/?page_size=20", token)
            with lock:
                latencies["list"].append(seconds)
            time.sleep(1)

    started = time.monotonic()
    threads = [threading.Thread(target=client) for _ in range(options.clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started

    # Every accepted upload: exactly one analysis, finished, all its files in the bucket.
    locations = [location for status, location in uploads if status == 202]
    analyses = [json.loads(request("GET", location, token)[1]) for location in locations]
    done = [a for a in analyses if a["status"] == "done"]
    pages = s3["client"].get_paginator("list_objects_v2").paginate(Bucket=s3["AWS_STORAGE_BUCKET_NAME"])
    keys = {item["Key"] for page in pages for item in page.get("Contents", [])}
    missing, expected = 0, set()
    for analysis in analyses:
        prefix = f"analyses/{analysis['id']}/"
        mine = {key for key in keys if key.startswith(prefix)}
        expected |= mine
        frames = len(analysis.get("frames", []))
        if analysis["status"] == "done" and not any(key.endswith("/video.mp4") for key in mine):
            missing += 1
        if analysis["status"] == "done" and len([k for k in mine if "/frames/" in k]) != frames:
            missing += 1
    orphans = len(keys - expected)
    count = run([sys.executable, "manage.py", "shell", "--no-imports", "-c",
                 "from detection.models import Analysis; print(Analysis.objects.count())"], env).stdout.strip()

    print()
    print(f"videos submitted     {len(uploads)} by {options.clients} clients in {elapsed:.0f} s")
    print(f"accepted (202)       {len(locations)}")
    print(f"finished (done)      {len(done)}   failed: {sum(a['status'] == 'failed' for a in analyses)}")
    print(f"analyses in database {count}   distinct ids: {len({a['id'] for a in analyses})}")
    print(f"files missing        {missing}   objects without an analysis: {orphans}")
    print(f"throughput           {len(done) / elapsed * 60:.1f} videos/minute with 2 workers")
    for name, values in latencies.items():
        if values:
            print(f"latency {name:<7}      p50 {percentile(values, 0.5) * 1000:6.0f} ms   "
                  f"p95 {percentile(values, 0.95) * 1000:6.0f} ms   ({len(values)} requests)")
    print(f"errors               {len(errors)}")
    for error in errors[:10]:
        print("  ", error)
    ok = (len(done) == len(locations) == options.videos and int(count) == options.videos and missing == 0
          and orphans == 0 and not errors)
    print("RESULT", "ok: nothing lost" if ok else "NOT OK")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
