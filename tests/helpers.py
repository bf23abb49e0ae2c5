"""Plain functions the tests share (fixtures stay in the conftest files)."""

from __future__ import annotations

from pathlib import Path

from tests import processes
from tests.factories import PASSWORD  # noqa: F401 - the one password every test user has


def upload(content: bytes, name: str = "clip.mp4"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, content, content_type="video/mp4")


def stored_files(root) -> list[str]:
    """Every file under a local media root, relative to it."""
    root = Path(root)
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) if root.exists() else []


def stored_folders(root) -> list[str]:
    """Every folder under a local media root, relative to it."""
    root = Path(root)
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_dir()) if root.exists() else []


def reset_celery_connections():
    """Forget this process's broker connections, so the next task goes to the broker the
    configuration names now. app.close() alone keeps amqp's producer pool when the
    connection pool was never created, and tasks would still go to the old broker."""
    from dfdsite.celery import app

    app.close()
    app.amqp._producer_pool = None


def wait_for_status(analysis, statuses, timeout: float = 120):
    def finished():
        analysis.refresh_from_db()
        return analysis.status in statuses

    processes.wait_until(finished, timeout, f"analysis {analysis.id} to reach {statuses}", interval=0.25)
    return analysis


def finished_analysis(owner, content: bytes, name: str = "clip.mp4", frames: int = 10):
    """An analysis created and run in this process, as a worker would run it."""
    from detection import services

    analysis = services.analysis_create(owner=owner, file=upload(content, name), frames=frames)
    return services.analysis_run(analysis_id=analysis.id)


# --- API ---------------------------------------------------------------------------------------


def token_for(user, **kwargs) -> str:
    from accounts import services as account_services

    return account_services.token_create(user=user, name=kwargs.pop("name", "test"), **kwargs)[1]


def auth(token: str) -> dict:
    return {"Authorization": f"Token {token}"}


def assert_error(response, status: int, code: str | None = None) -> dict:
    """The one error shape, with this status (and code)."""
    assert response.status_code == status, response.content[:2000]
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) == {"status", "code", "message", "fields"}
    assert error["status"] == status and error["message"]
    if code is not None:
        assert error["code"] == code, error
    return error


# --- Webhooks ----------------------------------------------------------------------------------


def readme_verify_signature():
    """The README's signature check for receivers, exactly as printed there."""
    import re

    text = (processes.REPO_ROOT / "README.md").read_text()
    [snippet] = [block for block in re.findall(r"```python\n(.*?)```", text, re.S) if "def verify_signature" in block]
    namespace: dict = {}
    exec(compile(snippet, "README.md", "exec"), namespace)
    return namespace["verify_signature"]


class WebhookReceiver:
    """A real HTTP server on loopback that receives webhooks: it answers each POST with the next
    of `statuses` (200 once they run out) and records it, with whether its signature held
    for `secret` (the README's check) at the moment it arrived. Use it as a context manager."""

    def __init__(self, statuses=(), secret: str = ""):
        import threading

        self.statuses, self.secret, self.requests = list(statuses), secret, []
        self._lock = threading.Lock()
        self._verify = readme_verify_signature()

    def __enter__(self):
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                import time

                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver._lock:
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                    receiver.requests.append({
                        "path": self.path, "headers": dict(self.headers), "body": body, "status": status,
                        "at": time.monotonic(),
                        "verified": receiver._verify(receiver.secret, self.headers.get("X-DFD-Signature", ""), body),
                    })
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._server.server_close()

    def wait_for(self, count: int, timeout: float = 60) -> list[dict]:
        processes.wait_until(lambda: len(self.requests) >= count, timeout, f"{count} webhook requests")
        return self.requests


def endpoint_with_log(owner, url: str = "https://hooks.example.org/deepfakes"):
    """An endpoint (made without the address check, which needs DNS) with a delivery log: one
    delivered at the second attempt, one waiting for its retry."""
    from datetime import timedelta

    from django.utils import timezone

    from webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint

    now = timezone.now()
    endpoint = WebhookEndpoint.objects.create(owner=owner, url=url, description="newsroom alerts",
                                              secret="whsec_" + "x" * 43, secret_created_at=now)
    delivered = WebhookDelivery.objects.create(endpoint=endpoint, event="analysis.finished", body="{}",
                                               status="succeeded", attempts=2, last_status_code=200)
    WebhookAttempt.objects.create(delivery=delivered, number=1, started_at=now, duration_ms=31, status_code=500,
                                  error="The receiver answered 500, not 2xx.",
                                  next_retry_at=now + timedelta(seconds=10))
    WebhookAttempt.objects.create(delivery=delivered, number=2, started_at=now, duration_ms=12, status_code=200,
                                  succeeded=True)
    waiting = WebhookDelivery.objects.create(endpoint=endpoint, event="webhook.test", body="{}", attempts=1,
                                             next_retry_at=now + timedelta(seconds=30))
    WebhookAttempt.objects.create(delivery=waiting, number=1, started_at=now, duration_ms=10000,
                                  error="No answer within 10 seconds.", next_retry_at=now + timedelta(seconds=30))
    return endpoint
