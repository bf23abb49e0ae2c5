"""Files on S3 (a real SeaweedFS server): the API redirects to short-lived presigned URLs, and
`curl -L` with a token fetches them, as the README says."""

import shutil
import subprocess
import urllib.request

import pytest

from tests.helpers import auth, finished_analysis, token_for

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


def test_files_redirect_to_presigned_urls_and_curl_follows(live_server, client, alice, detector, face_video_bytes,
                                                           s3_storage):
    analysis = finished_analysis(alice, face_video_bytes)
    assert analysis.status == "done", analysis.error_message
    token = token_for(alice)
    body = client.get(f"/api/v1/analyses/{analysis.id}/", headers=auth(token)).json()
    frame = next(f for f in body["frames"] if f["heatmap_url"])
    for url in (body["poster_url"], body["video_url"], frame["thumbnail_url"], frame["heatmap_url"]):
        response = client.get(url, headers=auth(token))
        assert response.status_code == 302, url
        assert response.url.startswith(s3_storage["env"]["AWS_S3_ENDPOINT_URL"])
        assert "X-Amz-Signature=" in response.url and "X-Amz-Expires=300" in response.url
    with urllib.request.urlopen(client.get(body["poster_url"], headers=auth(token)).url) as presigned:
        assert presigned.read(3) == b"\xff\xd8\xff"

    if shutil.which("curl") is None:
        pytest.fail("curl is not installed: run `make test`, which installs it")
    poster = f"{live_server.url}/api/v1/analyses/{analysis.id}/poster/"
    result = subprocess.run(["curl", "-sSfL", "-H", f"Authorization: Token {token}", poster], capture_output=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout[:3] == b"\xff\xd8\xff"
    # Without a token: 401, and no redirect to follow.
    denied = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", poster], capture_output=True,
                            text=True, timeout=60)
    assert denied.stdout == "401"
