"""Abuse against a live server, as the probe did it: gunicorn with several worker processes on
the test database (PostgreSQL in the PostgreSQL pass of `make test`, SQLite in the other),
real sockets, real parallel requests.

- Finding 2: parallel uploads all passed the running-analysis limit before any was inserted.
- Finding 3, in parallel: retries, likewise.
- Finding 5: the web form read the whole body (the CSRF check parses it) before refusing it,
  so a slow sender declaring 1 GiB held a worker; it must be cut off before 1 MB is read.
"""

from __future__ import annotations

import json
import select
import socket
import threading
import time
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from detection.models import Analysis, UploadLedgerEntry
from tests import processes
from tests.factories import AnalysisFactory
from tests.helpers import token_for

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]
RUNNING_LIMIT = 5
PARALLEL = 20
MB = 1 << 20


@pytest.fixture(scope="module")
def server(django_db_setup, tmp_path_factory):
    """gunicorn with 3 sync workers, as in production, on the test database; one for the module."""
    from django.conf import settings

    folder = tmp_path_factory.mktemp("live")
    env = processes.django_env(
        DJANGO_DEBUG="1", DFD_VAR_DIR=str(folder / "var"), DATABASE_URL=processes.database_url_for(connection),
        DJANGO_MEDIA_ROOT=str(folder / "media"), DFD_MODELS_DIR=str(settings.DFD_MODELS_DIR),
        DFD_MAX_RUNNING_PER_USER=str(RUNNING_LIMIT), DFD_API_THROTTLE_USER="100000/hour",
        DFD_API_THROTTLE_UPLOADS="100000/day", DFD_API_THROTTLE_ANON="100000/hour",
    )
    proc, url = processes.start_gunicorn(env, folder / "gunicorn.log", workers=3)
    try:
        for _ in range(6):  # every worker has loaded the URLconf and views
            urllib.request.urlopen(f"{url}/accounts/login/", timeout=60).read()
        yield url
    finally:
        processes.stop_process(proc)


@pytest.fixture
def live(server, detector):
    return server


def request(method: str, url: str, token: str, body: bytes = b"", content_type: str = "") -> str:
    """The status, and for an error its code: "202", "429 too_many_running"."""
    headers = {"Authorization": f"Token {token}", **({"Content-Type": content_type} if content_type else {})}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=body or None, method=method, headers=headers),
                                    timeout=120) as response:
            return str(response.status)
    except urllib.error.HTTPError as error:
        return f"{error.code} {json.loads(error.read())['error']['code']}"


def together(count: int, call) -> list:
    """`call(number)` from `count` threads released at the same moment."""
    start = threading.Barrier(count)

    def run(number):
        start.wait()
        return call(number)

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(run, range(count)))


def multipart(content: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="clip.mp4"\r\n'
            "Content-Type: video/mp4\r\n\r\n").encode() + content + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def test_parallel_uploads_cannot_pass_the_running_limit_together(live, alice, face_video_bytes):
    token = token_for(alice)
    body, content_type = multipart(face_video_bytes)
    answers = together(PARALLEL, lambda _: request("POST", f"{live}/api/v1/analyses/", token, body, content_type))
    assert sorted(answers) == ["202"] * RUNNING_LIMIT + ["429 too_many_running"] * (PARALLEL - RUNNING_LIMIT)
    assert Analysis.objects.filter(owner=alice).count() == RUNNING_LIMIT
    assert UploadLedgerEntry.objects.filter(owner=alice).count() == RUNNING_LIMIT


def test_parallel_retries_cannot_pass_the_running_limit_together(live, bob, detector):
    token = token_for(bob)
    finished = AnalysisFactory.create_batch(12, owner=bob, detector=detector, status=Analysis.Status.DONE)
    answers = together(len(finished), lambda number: request(
        "POST", f"{live}/api/v1/analyses/{finished[number].id}/retry/", token))
    assert sorted(answers) == ["202"] * RUNNING_LIMIT + ["429 too_many_running"] * (12 - RUNNING_LIMIT)
    assert Analysis.objects.filter(owner=bob, status=Analysis.Status.QUEUED).count() == RUNNING_LIMIT


# --- Bodies -------------------------------------------------------------------------------------


def csrf_cookie(base: str) -> str:
    """What any anonymous visitor has: the sign-in page's CSRF cookie."""
    with urllib.request.urlopen(f"{base}/accounts/login/", timeout=30) as response:
        cookie = response.headers["Set-Cookie"]
    return cookie.split("csrftoken=", 1)[1].split(";", 1)[0]


FILE_PART = (b'--x\r\nContent-Disposition: form-data; name="file"; filename="big.mp4"\r\n'
             b"Content-Type: video/mp4\r\n\r\n")  # the start of a real upload; the file follows slowly


def slow_send(base: str, path: str, headers: dict[str, str], chunk: bytes, prelude: bytes = b"",
              budget: int = MB, pause: float = 0.1, patience: float = 10.0) -> dict:
    """Send the headers and `prelude`, then `chunk` every `pause` seconds until the server
    answers, stops reading, or `budget` bytes went out; then wait up to `patience` seconds
    for an answer."""
    host, port = base.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=30)
    started = time.monotonic()
    sent = 0
    head = f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    sock.sendall((head + "\r\n").encode() + prelude)
    answer = b""
    try:
        while sent < budget:
            if select.select([sock], [], [], 0)[0]:
                break  # the server answered (or closed) while we were still sending
            sock.sendall(chunk)
            sent += len(chunk)
            time.sleep(pause)
        sock.settimeout(patience)
        while b"\r\n\r\n" not in answer:
            data = sock.recv(65536)
            if not data:
                break
            answer += data
    except (TimeoutError, ConnectionError):
        pass
    finally:
        sock.close()
    status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/") else None
    return {"status": status, "sent": sent, "seconds": time.monotonic() - started, "answer": answer}


@pytest.mark.parametrize("path", ["/analyses/new/", "/accounts/login/"])
def test_a_slow_sender_declaring_a_huge_body_is_cut_off_before_1_mb(live, path):
    token = csrf_cookie(live)
    result = slow_send(live, path, {
        "Cookie": f"csrftoken={token}", "X-CSRFToken": token, "Content-Length": str(1 << 30),
        "Content-Type": "multipart/form-data; boundary=x", "Referer": f"{live}/accounts/login/",
    }, prelude=FILE_PART, chunk=b"x" * 16384)
    assert result["status"] == 413, result
    assert result["sent"] < MB and result["seconds"] < 5, result
    print(f"{path}: 413 after {result['sent'] // 1024} KB sent, {result['seconds'] * 1000:.0f} ms")


def test_a_chunked_body_is_refused_without_being_read(live):
    token = csrf_cookie(live)
    chunk = b"4000\r\n" + b"x" * 0x4000 + b"\r\n"
    result = slow_send(live, "/analyses/new/", {
        "Cookie": f"csrftoken={token}", "X-CSRFToken": token, "Transfer-Encoding": "chunked",
        "Content-Type": "multipart/form-data; boundary=x",
    }, chunk=chunk)
    assert result["status"] == 411, result
    assert result["sent"] < MB and result["seconds"] < 5, result
