import pytest
from django.urls import reverse

from detection.models import DetectorModel

pytestmark = pytest.mark.django_db

METRICS = {
    "split": "held-out, grouped by source video", "samples": 200, "roc_auc": 0.912, "accuracy": 0.85,
    "balanced_accuracy": 0.84, "log_loss": 0.351, "threshold": 0.5,
    "confusion": {"tp": 80, "fp": 10, "fn": 20, "tn": 90},
    "by_source": {"DFDC": {"samples": 150, "roc_auc": 0.93, "accuracy": 0.87}},
    "by_method": {"FaceSwap": {"samples": 20, "roc_auc": None, "accuracy": 0.7}},
    "roc": {"fpr": [0.0, 0.1, 1.0], "tpr": [0.0, 0.8, 1.0]},
}


def test_detector_list_and_detail_show_metrics(alice_client, detector):
    DetectorModel.objects.filter(id=detector.id).update(metrics=METRICS, description="Trained on DFDC.\n\nA screening aid.")
    listing = alice_client.get(reverse("detector_list"))
    assert b"Test detector" in listing.content and b"AUC 0.912" in listing.content
    page = alice_client.get(reverse("detector_detail", args=[detector.id]))
    html = page.content.decode()
    assert "0.912" in html and "85.0%" in html and "TP" in html and "source: DFDC" in html
    assert "<polyline" in html and 'id="model-card"' in html and "A screening aid." in html
    assert detector.sha256 in html


def test_unevaluated_detector_and_missing_detector(alice_client, detector):
    page = alice_client.get(reverse("detector_detail", args=[detector.id]))
    assert b"has not been evaluated" in page.content
    assert alice_client.get(reverse("detector_detail", args=[detector.id + 100])).status_code == 404


def test_no_detectors_page_says_how_to_install(alice_client):
    assert b"manage.py install_model" in alice_client.get(reverse("detector_list")).content


@pytest.fixture
def staff_client(client):
    from tests.factories import UserFactory

    client.force_login(UserFactory(username="admin", is_staff=True))
    return client


def test_a_healthy_detector_shows_no_warning(staff_client, own_detector):
    for url in (reverse("detector_list"), reverse("detector_detail", args=[own_detector.id])):
        html = staff_client.get(url).content.decode()
        assert "unavailable" not in html and "detector-status" not in html


@pytest.mark.parametrize("damage, words", [("remove", "is missing"), ("change", "has changed")])
def test_admins_see_which_checkpoint_file_is_wrong(staff_client, own_detector, settings, damage, words):
    if damage == "remove":
        own_detector.path.unlink()
    else:
        own_detector.path.write_bytes(b"something else")
    for url in (reverse("detector_list"), reverse("detector_detail", args=[own_detector.id])):
        page = staff_client.get(url)
        assert page.status_code == 200
        html = page.content.decode()
        assert f"The checkpoint file own-detector.pt {words}" in html
        assert str(settings.DFD_MODELS_DIR) not in html  # the file's name, never the server's path
        assert "This detector is unavailable" not in html


def test_other_people_are_told_plainly_that_it_is_unavailable(alice_client, own_detector, settings):
    own_detector.path.unlink()
    for url in (reverse("detector_list"), reverse("detector_detail", args=[own_detector.id])):
        html = alice_client.get(url).content.decode()
        assert "This detector is unavailable" in html
        assert "checkpoint file" not in html and str(settings.DFD_MODELS_DIR) not in html
