import pytest

from accounts import services as account_services
from detection import services
from tests.conftest import upload


@pytest.fixture
def rates(settings):
    """Set throttle rates for one test, e.g. rates(user="3/minute")."""

    def set_rates(**changed):
        current = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
        settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {**current, **changed}}

    return set_rates


def token_for(user, **kwargs) -> str:
    return account_services.token_create(user=user, name=kwargs.pop("name", "test"), **kwargs)[1]


def auth(token: str) -> dict:
    return {"Authorization": f"Token {token}"}


@pytest.fixture
def alice_token(alice) -> str:
    return token_for(alice)


@pytest.fixture
def bob_token(bob) -> str:
    return token_for(bob)


@pytest.fixture
def api(client, alice_token):
    """The test client, authenticated as alice with a token on every request."""
    client.defaults["HTTP_AUTHORIZATION"] = f"Token {alice_token}"
    return client


def finished_analysis(owner, content: bytes, name: str = "clip.mp4", frames: int = 10):
    analysis = services.analysis_create(owner=owner, file=upload(content, name), frames=frames)
    return services.analysis_run(analysis_id=analysis.id)


@pytest.fixture
def done(alice, detector, face_video_bytes):
    analysis = finished_analysis(alice, face_video_bytes, "alice-clip.mp4")
    assert analysis.status == "done", analysis.error_message
    return analysis


@pytest.fixture
def bobs(bob, detector, face_video_bytes):
    analysis = finished_analysis(bob, face_video_bytes, "bob-clip.mp4")
    assert analysis.status == "done", analysis.error_message
    return analysis


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
