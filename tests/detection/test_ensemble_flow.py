"""An ensemble of two tiny members through install (a folder and a URL), the registry, a real
Celery worker, the API and the result page, with the score of each member kept and shown."""

import functools
import shutil
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.management import call_command
from django.urls import reverse

from detection import registry
from detection.models import Analysis, DetectorModel
from dfdsite.errors import DetectorUnavailable
from tests.ensembles import MEMBERS, write_tiny_ensemble
from tests.helpers import upload, wait_for_status

pytestmark = pytest.mark.django_db(transaction=True)
MEMBER_NAMES = [m[0] for m in MEMBERS]


@pytest.fixture(scope="module")
def ensemble_folder(tmp_path_factory):
    return write_tiny_ensemble(tmp_path_factory.mktemp("published")).parent


@pytest.fixture
def models_dir(settings, tmp_path):
    settings.DFD_MODELS_DIR = tmp_path / "models"
    return settings.DFD_MODELS_DIR


@pytest.fixture
def served(ensemble_folder):
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(ensemble_folder))
    handler.log_message = lambda *args: None
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    httpd.server_close()


def installed_ensemble() -> DetectorModel:
    ensemble = DetectorModel.objects.get(variant="ensemble")
    assert ensemble.is_default and ensemble.name == "tiny-ensemble"
    members = {d.name: d for d in DetectorModel.objects.exclude(pk=ensemble.pk)}
    assert sorted(members) == MEMBER_NAMES and not any(d.is_default for d in members.values())
    assert [m["sha256"] for m in ensemble.members] == [members[name].sha256 for name in MEMBER_NAMES]
    return ensemble


def test_installs_from_a_folder_as_one_unit_and_notices_a_changed_member(models_dir, ensemble_folder, capsys):
    call_command("install_model", str(ensemble_folder / "tiny-ensemble.json"), "--default")
    ensemble = installed_ensemble()
    assert sorted(p.name for p in models_dir.iterdir() if not p.name.startswith(".")) == [
        "member-a.pt", "member-b.pt", "tiny-ensemble.json"]
    assert ensemble.architecture == "ensemble of 2 detectors"
    assert registry.detector_resolve() == ensemble

    # A member replaced on disk makes the ensemble unavailable, and says which file.
    (models_dir / "member-b.pt").write_bytes(b"not the member any more")
    status = registry.detector_check(ensemble)
    assert not status.ok and status.file_name == "member-b.pt"
    with pytest.raises(DetectorUnavailable):
        registry.detector_resolve()


def test_installs_from_a_url_with_its_members_beside_it(models_dir, served):
    call_command("install_model", f"{served}/tiny-ensemble.json", "--default")
    installed_ensemble()
    assert not list((models_dir / ".downloads").glob("*"))


def test_a_member_that_does_not_match_its_hash_stops_the_install(models_dir, ensemble_folder, tmp_path):
    folder = tmp_path / "tampered"
    shutil.copytree(ensemble_folder, folder)
    (folder / "member-a.pt").write_bytes((folder / "member-a.pt").read_bytes() + b"x")
    with pytest.raises(registry.DetectorInstallError, match="member-a.pt"):
        registry.detector_install(source=str(folder / "tiny-ensemble.json"))
    assert not DetectorModel.objects.filter(variant="ensemble").exists()
    assert not (models_dir / "tiny-ensemble.json").exists()


@pytest.mark.services
def test_worker_api_and_page_carry_each_members_score(models_dir, ensemble_folder, client, alice,
                                                      face_video_bytes, start_worker):
    registry.detector_install(source=str(ensemble_folder / "tiny-ensemble.json"), make_default=True)
    ensemble = installed_ensemble()
    start_worker()
    client.force_login(alice)
    response = client.post(reverse("detection:analysis_new"), {"file": upload(face_video_bytes), "frames": 10,
                                                                "strategy": "uniform"})
    assert response.status_code == 302, response.content[:2000]
    analysis = Analysis.objects.get()
    wait_for_status(analysis, {"done", "failed"})
    assert analysis.status == "done", analysis.error_message
    assert analysis.detector == ensemble and list(analysis.member_scores) == MEMBER_NAMES
    assert all(0 <= p <= 1 for p in analysis.member_scores.values())

    shown = client.get(reverse("api:analysis-detail", args=[analysis.id])).json()
    assert shown["member_scores"] == pytest.approx(analysis.member_scores)
    assert shown["detector"]["name"] == "tiny-ensemble"

    page = client.get(reverse("detection:analysis_detail", args=[analysis.id])).content.decode()
    assert 'id="member-scores"' in page and all(name in page for name in MEMBER_NAMES)
    detector_page = client.get(reverse("detector_detail", args=[ensemble.id])).content.decode()
    assert 'id="members"' in detector_page and "An ensemble: 2 detectors" in detector_page



def test_a_fresh_install_scan_makes_the_ensemble_the_default(models_dir, ensemble_folder):
    shutil.copytree(ensemble_folder, models_dir)
    registered, updated, problems = registry.detectors_scan()
    assert not problems and not updated
    assert sorted(d.name for d in registered) == ["tiny-ensemble"]  # the members came with it
    installed_ensemble()
    assert registry.detectors_scan() == ([], [], {})


def test_a_fresh_install_scan_makes_the_latest_ensemble_release_the_default(models_dir, ensemble_folder):
    shutil.copytree(ensemble_folder, models_dir)
    (models_dir / "tiny-ensemble.json").unlink()
    for release in ("tiny-ensemble-v9", "tiny-ensemble-v10"):  # v10 is later, though it sorts first as text
        write_tiny_ensemble(models_dir, name=release, description=f"Release {release} (tests).")
    registered, _, problems = registry.detectors_scan()
    assert not problems and {"tiny-ensemble-v9", "tiny-ensemble-v10"} <= {d.name for d in registered}
    assert registry.detector_resolve().name == "tiny-ensemble-v10"


def test_the_committed_models_folder_gives_the_ensemble_as_default(models_dir, settings):
    from pathlib import Path

    committed = Path(settings.BASE_DIR) / "models"
    if not (committed / "dfd-ensemble-v3.json").is_file():
        pytest.skip("the default ensemble is not in models/ (not committed here)")
    shutil.copytree(committed, models_dir)
    call_command("install_model", "--scan")
    default = registry.detector_resolve()
    assert default.name == "dfd-ensemble-v3" and default.is_ensemble and default.description.startswith("# ")
    assert {m["name"] for m in default.members} <= set(DetectorModel.objects.values_list("name", flat=True))
