import pytest

from tests.helpers import finished_analysis, token_for


@pytest.fixture
def rates(settings):
    """Set throttle rates for one test, e.g. rates(user="3/minute")."""

    def set_rates(**changed):
        current = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
        settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {**current, **changed}}

    return set_rates


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
