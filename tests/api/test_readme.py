"""The README's curl session, run as written against a live server and a real Celery worker
on Redis: token, upload, poll until done, read the result, fetch a file; a batch of two, its
summary and its CSV export; a webhook endpoint and its deliveries."""

import csv
import json
import re
import shutil
import subprocess
import urllib.request
from datetime import timedelta

import pytest
from django.utils import timezone

from detection.models import Analysis
from sharing.models import ShareLink
from tests import stills
from tests.helpers import PASSWORD, WebhookReceiver, readme_verify_signature
from tests.processes import REPO_ROOT
from webhooks.models import WebhookEndpoint

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

README_ORIGIN = "http://127.0.0.1:8000"


def readme_api_session() -> str:
    text = (REPO_ROOT / "README.md").read_text()
    section = text.split("\n## API\n", 1)[1].split("\n## ", 1)[0]
    [block] = re.findall(r"```sh\n(.*?)```", section, re.S)
    assert "curl" in block and README_ORIGIN in block
    return block


README_WEBHOOK = "https://example.org/hooks/deepfakes"


@pytest.fixture
def receiver(settings):
    """The README's webhook goes to a receiver of the test's own, on loopback (nothing outside answers here)."""
    settings.DFD_OUTBOUND_ALLOW_PRIVATE = True
    with WebhookReceiver() as receiver:
        yield receiver


def test_readme_curl_session(live_server, alice, detector, face_video_bytes, start_worker, tmp_path, receiver):
    if shutil.which("curl") is None:
        pytest.fail("curl is not installed: run `make test`, which installs it")
    start_worker(DFD_OUTBOUND_ALLOW_PRIVATE="1")
    assert README_WEBHOOK in readme_api_session()
    script = readme_api_session().replace(README_ORIGIN, live_server.url).replace(README_WEBHOOK, receiver.url + "/h")
    session = tmp_path / "session"
    session.mkdir()
    (session / "video.mp4").write_bytes(face_video_bytes)
    (session / "photo.jpg").write_bytes(stills.encode(stills.face_photo(faces=2), ".jpg"))
    try:
        result = subprocess.run(
            ["bash", "-euc", script], cwd=session, capture_output=True, text=True, timeout=180,
            env={"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(tmp_path), "DFD_USER": "alice",
                 "DFD_PASSWORD": PASSWORD},
        )
    except subprocess.TimeoutExpired:
        logs = "\n".join(path.read_text()[-3000:] for path in tmp_path.glob("worker-*.log"))
        pytest.fail(f"the session did not finish: {list(Analysis.objects.values('status', 'stage'))}\n{logs}")
    assert result.returncode == 0, result.stdout + result.stderr
    analysis = Analysis.objects.get(batch=None, media_kind="video")
    assert analysis.owner == alice and analysis.status == "done", analysis.error_message

    # The JSON printed: the finished analysis, as the API describes it, then the webhook's deliveries;
    # the share link is the line that is its URL.
    printed = printed_json(result.stdout)
    shown = printed[0]
    [share_url] = [line for line in result.stdout.splitlines() if line.startswith(f"{live_server.url}/shared/")]
    assert shown["id"] == str(analysis.id) and shown["status"] == "done" and shown["finished"] is True
    assert shown["verdict"] in ("real", "fake") and 0 <= shown["probability_fake"] <= 1
    assert len(shown["frames"]) == analysis.frames_analysed >= 19
    assert shown["frames_requested"] == 20 and shown["file_name"] == "video.mp4"
    assert (session / "face.jpg").read_bytes()[:3] == b"\xff\xd8\xff"
    assert (session / "report.pdf").read_bytes()[:5] == b"%PDF-"
    report = json.loads((session / "report.json").read_text())
    assert report["schema"] == "dfd-report/1" and report["analysis"]["id"] == str(analysis.id)
    assert report["verdict"]["probability_fake"] == shown["probability_fake"]
    link = ShareLink.objects.get(analysis=analysis)
    assert share_url.startswith(f"{live_server.url}/shared/") and not link.include_video
    assert timedelta(days=6, hours=23) < link.expires_at - timezone.now() <= timedelta(days=7)
    with urllib.request.urlopen(share_url) as shared:  # no token, no cookie: the link alone
        assert shared.status == 200 and b"Shared by <strong>alice</strong>" in shared.read()
    token = alice.api_tokens.get()
    assert token.name == "my-laptop" and token.last_used_at is not None

    # The batch: two analyses of the same video, both done, summed up and exported.
    batch = json.loads((session / "batch.json").read_text())
    assert batch["name"] == "Interviews" and batch["summary"]["total"] == batch["summary"]["finished_count"] == 2
    assert batch["summary"]["counts"]["status"]["done"] == 2
    assert [item["file_name"] for item in batch["analyses"]] == ["video.mp4", "second.mp4"]
    rows = list(csv.DictReader((session / "batch.csv").read_text().splitlines()))
    assert [row["name"] for row in rows] == ["video.mp4", "second.mp4"] and {r["status"] for r in rows} == {"done"}
    assert {row["sha256"] for row in rows} == {analysis.sha256}

    # The endpoint, its secret kept in webhook.json, and the test event it was sent, signed with that secret.
    endpoint = WebhookEndpoint.objects.get(owner=alice)
    secret = json.loads((session / "webhook.json").read_text())["secret"]
    assert endpoint.description == "newsroom" and endpoint.is_active and secret == endpoint.secret
    [delivery] = printed[1]
    assert delivery["event"] == "webhook.test"
    # Two requests reach the receiver: the test event, and the photo's "analysis.finished" (the
    # endpoint existed by the time the photo was done).
    requests = {r["headers"]["X-DFD-Delivery"]: r for r in receiver.wait_for(2)}
    request = requests[delivery["id"]]
    assert readme_verify_signature()(secret, request["headers"]["X-DFD-Signature"], request["body"])
    events = [json.loads(r["body"]) for r in requests.values()]
    assert sorted(e["type"] for e in events) == ["analysis.finished", "webhook.test"]

    # The photo: each of its two faces judged, the verdict that of the most suspicious.
    photo = json.loads((session / "photo.json").read_text())
    assert photo["media_kind"] == "image" and photo["status"] == "done" and photo["file_name"] == "photo.jpg"
    assert len(photo["frames"]) == 2
    assert photo["probability_fake"] == pytest.approx(max(f["probability_fake"] for f in photo["frames"]))
    [finished] = [e for e in events if e["type"] == "analysis.finished"]
    assert finished["data"]["analysis"]["id"] == photo["id"]


def printed_json(output: str) -> list:
    """Every JSON document in the output, in order."""
    decoder, found, position = json.JSONDecoder(), [], 0
    while (start := min((i for i in (output.find("{", position), output.find("[", position)) if i >= 0),
                        default=-1)) >= 0:
        value, position = decoder.raw_decode(output, start)
        found.append(value)
    return found
