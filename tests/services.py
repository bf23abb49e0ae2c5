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
    answers on 6379 (the project's machines run one), else a private one we start."""
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
    client.flushdb()
    try:
        yield url
    finally:
        client.flushdb()
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


def start_celery_worker(env: dict[str, str], log_path: Path, queues: str = "default") -> subprocess.Popen:
    log = open(log_path, "ab")
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "dfdsite", "worker", "--pool", "solo", "--concurrency", "1",
         "--without-gossip", "--without-mingle", "--loglevel", "INFO", "--queues", queues],
        cwd=REPO_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
