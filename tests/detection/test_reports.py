"""Reports of a finished analysis, with real frames, faces and heat maps from a real run: the JSON
(schema dfd-report/1) and the PDF made from the same facts, on local disk and on S3, to the
owner only."""

import io
import json

import pypdfium2
import pytest
from pypdf import PdfReader

from detection import reports
from tests.factories import AnalysisFactory
from tests.helpers import assert_error, auth, finished_analysis, token_for

pytestmark = pytest.mark.django_db

A4_POINTS = (595.28, 841.89)
REPORT_KEYS = {"schema", "generated_at", "generator", "analysis", "file", "verdict", "member_scores", "detector",
               "frames", "most_suspicious_frames", "content_credentials", "limits"}


def pdf_text(content: bytes) -> str:
    return " ".join(" ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(content)).pages)


def pdf_images(content: bytes) -> int:
    return sum(len(page.images) for page in PdfReader(io.BytesIO(content)).pages)


def assert_printable_a4(content: bytes) -> int:
    """Every page is A4 and, rendered, shows something: the page count."""
    assert content.startswith(b"%PDF-")
    document = pypdfium2.PdfDocument(content)
    for page in document:
        width, height = page.get_size()
        assert (round(width, 1), round(height, 1)) == (round(A4_POINTS[0], 1), round(A4_POINTS[1], 1))
        image = page.render(scale=0.5).to_pil().convert("L")
        dark = sum(count for level, count in enumerate(image.histogram()) if level < 128)
        assert dark > 0.002 * image.width * image.height, "a blank page"
    return len(document)


def expected_images(analysis) -> int:
    shown = reports.report_facts(analysis)["most_suspicious_frames"]
    assert len(shown) == reports.MOST_SUSPICIOUS_FACES
    return sum(1 + bool(frame.heatmap) for frame in analysis.frames.filter(index__in=shown))


@pytest.fixture
def done(alice, detector, face_video_bytes):
    analysis = finished_analysis(alice, face_video_bytes, "interview “take 2”.mp4")
    assert analysis.status == "done" and analysis.frames.exclude(heatmap="").exists(), analysis.error_message
    return analysis


def test_json_and_pdf_reports_of_a_finished_analysis(alice_client, done):
    response = alice_client.get(f"/analyses/{done.id}/report.json")
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    assert f'filename="deepfake-report-{done.id}.json"' in response["Content-Disposition"]
    facts = response.json()
    assert set(facts) == REPORT_KEYS and facts["schema"] == "dfd-report/1"
    assert facts["analysis"]["id"] == str(done.id) and facts["analysis"]["file_name"] == "interview “take 2”.mp4"
    assert facts["analysis"]["media_kind"] == "video" and facts["analysis"]["frames_analysed"] == done.frames_analysed
    assert facts["file"] == {"sha256": done.sha256, "size_bytes": done.size_bytes, "container": "mp4",
                             "width": done.width, "height": done.height, "duration_seconds": done.duration_seconds,
                             "fps": done.fps}
    assert facts["verdict"]["verdict"] == done.verdict and facts["verdict"]["band"] == (done.band or None)
    assert facts["verdict"]["score"] == round(done.probability_fake * 100)
    assert facts["verdict"]["title"] and "detector" in facts["verdict"]["reading"]
    assert facts["detector"]["name"] == "Test detector" and facts["detector"]["sha256"] == done.detector.sha256
    assert facts["detector"]["version"]  # the checkpoint's creation time: it has no version of its own
    frames = list(done.frames.order_by("index"))
    assert [frame["index"] for frame in facts["frames"]] == [frame.index for frame in frames]
    assert facts["most_suspicious_frames"][0] == max(frames, key=lambda f: (f.probability_fake, -f.index)).index
    assert facts["member_scores"] == [] and facts["content_credentials"] is None
    assert [limit["title"] for limit in facts["limits"]][:3] == [
        "What the score means", "What it does not mean", "Where it is blind"]
    assert set(facts["analysis"]["timings"]) >= {"total"}
    # Every field the schema's document names is there, and nothing it does not.
    documented = (reports.__file__.rsplit("/detection/", 1)[0] + "/docs/report-schema.md")
    with open(documented) as schema_document:
        text = schema_document.read()
    for section, fields in facts.items():
        assert f"`{section}`" in text, section
        if isinstance(fields, dict) and section != "content_credentials":
            for field in fields:
                assert f"`{section}.{field}`" in text, f"{section}.{field}"


    # The PDF prints the same facts, with the chart and the faces.
    response = alice_client.get(f"/analyses/{done.id}/report.pdf")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert f'attachment; filename="deepfake-report-{done.id}.pdf"' == response["Content-Disposition"]
    content = response.content
    assert assert_printable_a4(content) >= 1
    text = pdf_text(content)
    facts = reports.report_facts(done)
    for fact in (done.original_name, facts["verdict"]["title"], f"{facts['verdict']['score']}/100",
                 done.sha256, done.detector.sha256, "Test detector", f"{done.width}×{done.height}",
                 "Score per frame", "The most suspicious faces", "Limits of the method", "Where it is blind",
                 f"{done.duration_seconds:.2f} s", str(done.id)):
        assert fact in text, fact
    assert "Content Credentials" not in text and "ensemble" not in text
    # The most suspicious faces, each with its heat map where it has one, from storage.
    assert pdf_images(content) == expected_images(done) >= 4
    assert PdfReader(io.BytesIO(content)).metadata.title == f"Analysis report: {done.original_name}"


def test_members_credentials_and_still_images_in_both_reports(alice_client, alice, detector):
    analysis = AnalysisFactory(
        owner=alice, detector=detector, status="done", verdict="fake", band="manipulated", probability_fake=0.83,
        confidence=0.83, frames_analysed=1, media_kind="image", original_name="still.jpg", container="jpeg",
        member_scores={"xception-ffpp": 0.91, "efficientnet-dfdc": 0.12},
        provenance={"claim_generator": "Camera App 2.1", "signed_by": "Example News Ltd", "valid": True},
    )
    facts = alice_client.get(f"/analyses/{analysis.id}/report.json").json()
    assert facts["member_scores"] == [{"member": "efficientnet-dfdc", "probability_fake": 0.12},
                                      {"member": "xception-ffpp", "probability_fake": 0.91}]
    assert facts["content_credentials"]["signed_by"] == "Example News Ltd"
    assert facts["analysis"]["media_kind"] == "image" and facts["file"]["duration_seconds"] is None
    assert "this image" in facts["verdict"]["reading"] and "this video" not in facts["verdict"]["reading"]
    content = alice_client.get(f"/analyses/{analysis.id}/report.pdf").content
    assert_printable_a4(content)
    text = pdf_text(content)
    for fact in ("Manipulation likely", "83/100", "Each member of the ensemble", "xception-ffpp", "91/100",
                 "efficientnet-dfdc", "12/100", "Content Credentials", "separate from the detector's opinion",
                 "Example News Ltd", "The image", "An image, analysed"):
        assert fact in text, fact
    assert "Score per frame" not in text and "Duration" not in text


def test_reports_are_the_owners_and_wait_for_the_result(client, alice, bob, detector):
    done = AnalysisFactory(owner=alice, detector=detector, status="done", verdict="no_face")
    alice_token, bob_token = token_for(alice), token_for(bob)
    api = f"/api/v1/analyses/{done.id}"
    pdf = client.get(f"{api}/report.pdf", headers={**auth(alice_token), "Accept": "application/pdf"})
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
    assert "No face found" in pdf_text(pdf.content)
    body = client.get(f"{api}/report.json", headers=auth(alice_token))
    assert body.status_code == 200 and json.loads(body.content)["verdict"]["score"] is None
    for url in (f"{api}/report.pdf", f"{api}/report.json"):
        assert_error(client.get(url, headers=auth(bob_token)), 404, "not_found")
    client.force_login(bob)
    for url in (f"/analyses/{done.id}/report.pdf", f"/analyses/{done.id}/report.json"):
        assert client.get(url).status_code == 404

    for state in (dict(status="processing"), dict(status="failed", error_message="broken")):
        running = AnalysisFactory(owner=alice, detector=detector, **state)
        error = assert_error(client.get(f"/api/v1/analyses/{running.id}/report.pdf", headers=auth(alice_token)),
                             409, "not_done")
        assert "once the analysis is done" in error["message"]
        client.force_login(alice)
        page = client.get(f"/analyses/{running.id}/report.json")
        assert page.status_code == 409 and b"once the analysis is done" in page.content


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_pdf_report_reads_faces_from_s3(alice_client, alice, detector, face_video_bytes, s3_storage):
    analysis = finished_analysis(alice, face_video_bytes)
    assert analysis.status == "done", analysis.error_message
    stored = s3_storage["client"].list_objects_v2(Bucket=s3_storage["bucket"])["Contents"]
    assert any(item["Key"].endswith("heatmap.jpg") or "heatmap" in item["Key"] for item in stored)
    content = alice_client.get(f"/analyses/{analysis.id}/report.pdf").content
    assert_printable_a4(content)
    assert pdf_images(content) == expected_images(analysis) >= 4
    assert analysis.sha256 in pdf_text(content)
