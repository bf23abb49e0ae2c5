"""One error shape everywhere, and rate limits from settings (429)."""

import pytest

from tests.helpers import PASSWORD, assert_error, auth, token_for, upload

pytestmark = pytest.mark.django_db


def test_unknown_api_paths_are_json_404s(client, api):
    for url in ("/api/v1/nope/", "/api/v1/analyses/not-a-uuid/", "/api/v1/analyses/%0A/", "/api/v1/"):
        assert_error(client.get(url), 404, "not_found")
        assert_error(client.post(url), 404, "not_found")


def test_malformed_json_is_a_400(api):
    error = assert_error(api.post("/api/v1/auth/token/", "{not json", content_type="application/json"), 400,
                         "parse_error")
    assert "JSON parse error" in error["message"] and error["fields"] == {}


def test_unhandled_errors_are_json_500s(api, monkeypatch):
    from detection import selectors

    def broken(**kwargs):
        raise RuntimeError("database exploded with secret details")

    monkeypatch.setattr(selectors, "detector_list", broken)
    response = api.get("/api/v1/detectors/")
    error = assert_error(response, 500, "server_error")
    assert "secret" not in response.content.decode()
    assert error["message"].startswith("The server failed")


def test_user_rate_limit_is_429_with_retry_after(api, rates):
    rates(user="3/minute")
    for _ in range(3):
        assert api.get("/api/v1/detectors/").status_code == 200
    response = api.get("/api/v1/detectors/")
    error = assert_error(response, 429, "throttled")
    assert "throttled" in error["message"] and 0 < int(response["Retry-After"]) <= 60


def test_rates_are_per_user(client, alice, bob, rates):
    rates(user="2/minute")
    alice_token, bob_token = token_for(alice), token_for(bob)
    for _ in range(2):
        assert client.get("/api/v1/detectors/", headers=auth(alice_token)).status_code == 200
    assert client.get("/api/v1/detectors/", headers=auth(alice_token)).status_code == 429
    assert client.get("/api/v1/detectors/", headers=auth(bob_token)).status_code == 200


def test_anonymous_rate_limit_covers_token_requests(client, alice, rates):
    rates(anon="2/hour")
    for _ in range(2):
        assert client.post("/api/v1/auth/token/", {"username": "alice", "password": "wrong"}).status_code == 401
    response = client.post("/api/v1/auth/token/", {"username": "alice", "password": PASSWORD})
    assert_error(response, 429, "throttled")


def test_uploads_have_their_own_rate(api, detector, face_video_bytes, rates):
    rates(uploads="1/day")
    assert api.post("/api/v1/analyses/", {"file": upload(face_video_bytes)}).status_code == 202
    assert_error(api.post("/api/v1/analyses/", {"file": upload(face_video_bytes)}), 429, "throttled")
    assert api.get("/api/v1/analyses/").status_code == 200  # reading is not an upload


def test_rates_come_from_the_environment(tmp_path):
    import subprocess
    import sys

    from tests.processes import REPO_ROOT, django_env

    code = "from django.conf import settings as s; print(s.REST_FRAMEWORK['DEFAULT_THROTTLE_RATES'])"
    result = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"], cwd=REPO_ROOT, capture_output=True,
        text=True, timeout=60,
        env=django_env(DJANGO_DEBUG="1", DFD_VAR_DIR=str(tmp_path), DFD_API_THROTTLE_USER="5/second",
                       DFD_API_THROTTLE_ANON="7/minute", DFD_API_THROTTLE_UPLOADS="9/hour"),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "{'user': '5/second', 'anon': '7/minute', 'uploads': '9/hour'}"


def test_per_person_limits_of_the_service_are_429(api, detector, face_video_bytes, settings):
    settings.DFD_MAX_RUNNING_PER_USER = 1
    assert api.post("/api/v1/analyses/", {"file": upload(face_video_bytes)}).status_code == 202
    error = assert_error(api.post("/api/v1/analyses/", {"file": upload(face_video_bytes)}), 429, "too_many_running")
    assert "waiting or running" in error["message"]
    settings.DFD_MAX_RUNNING_PER_USER = 5
    settings.DFD_MAX_UPLOADS_PER_DAY = 1
    assert_error(api.post("/api/v1/analyses/", {"file": upload(face_video_bytes)}), 429, "daily_limit")
