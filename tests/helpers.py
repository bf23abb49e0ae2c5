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
