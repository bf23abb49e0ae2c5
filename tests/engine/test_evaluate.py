"""The evaluation figures, checked against values worked out by hand on a fixed set of scores."""

import json
import math

import pytest

from detection.engine import evaluate as ev

# 4 fakes (1) and 4 reals (0). At threshold 0.5: fakes 0.9, 0.6, 0.8 caught, 0.4 missed;
# real 0.6 called fake, reals 0.3, 0.1, 0.2 passed.
Y = [1, 1, 1, 0, 0, 0, 1, 0]
P = [0.9, 0.6, 0.4, 0.3, 0.6, 0.1, 0.8, 0.2]


def test_confusion_accuracy_and_balanced_accuracy_by_hand():
    m = ev.binary_metrics(Y, P)

    assert m["confusion"] == {"tp": 3, "fp": 1, "fn": 1, "tn": 3}
    assert m["samples"] == 8
    assert m["accuracy"] == pytest.approx(6 / 8)
    assert m["balanced_accuracy"] == pytest.approx((3 / 4 + 3 / 4) / 2)
    assert m["threshold"] == 0.5


def test_roc_auc_by_hand_with_a_tie():
    # Pairs (fake, real) ranked right: 0.9 beats all 4 reals, 0.8 all 4, 0.6 beats 3 and ties
    # the real 0.6 (half), 0.4 beats 3: (4 + 4 + 3.5 + 3) / 16.
    assert ev.roc_auc(Y, P) == pytest.approx(14.5 / 16)
    assert ev.roc_auc([1, 0], [0.2, 0.8]) == 0.0
    assert ev.roc_auc([1, 1], [0.2, 0.8]) is None


def test_log_loss_by_hand():
    expected = -(
        math.log(0.9) + math.log(0.6) + math.log(0.4) + math.log(0.7)
        + math.log(0.4) + math.log(0.9) + math.log(0.8) + math.log(0.8)
    ) / 8
    assert ev.binary_metrics(Y, P)["log_loss"] == pytest.approx(expected)
    assert expected == pytest.approx(0.4196363, abs=1e-6)
    # Certain and wrong is clipped, not infinite.
    assert ev.binary_metrics([1], [0.0])["log_loss"] == pytest.approx(-math.log(1e-7))


def test_roc_curve_points_by_hand_and_its_area_is_the_auc():
    roc = ev.roc_curve(Y, P)

    assert roc["fpr"] == [0, 0, 0, 0.25, 0.25, 0.5, 0.75, 1]
    assert roc["tpr"] == [0, 0.25, 0.5, 0.75, 1, 1, 1, 1]
    area = sum((b - a) * (c + d) / 2 for a, b, c, d in zip(roc["fpr"], roc["fpr"][1:], roc["tpr"], roc["tpr"][1:]))
    assert area == pytest.approx(14.5 / 16)


def test_roc_curve_is_thinned_to_at_most_101_points():
    y = [i % 2 for i in range(1000)]
    p = [i / 1000 for i in range(1000)]
    roc = ev.roc_curve(y, p)
    assert len(roc["fpr"]) <= 101
    assert (roc["fpr"][0], roc["tpr"][0]) == (0, 0) and (roc["fpr"][-1], roc["tpr"][-1]) == (1, 1)


def scored():
    sources = ["a", "a", "b", "a", "b", "b", "a", "a"]
    methods = ["swap", "swap", "reenact", "none", "none", "none", "reenact", "none"]
    return [ev.Scored(y, p, s, m, f"u{i}") for i, (y, p, s, m) in enumerate(zip(Y, P, sources, methods))]


def test_breakdown_per_source_and_method():
    items = scored()
    by_source = ev.breakdown(items, "source")
    # source a: fakes 0.9, 0.6, 0.8; reals 0.3, 0.2 -> every pair right, 4 of 5 correct... all 5 right
    assert by_source["a"] == {"samples": 5, "roc_auc": 1.0, "accuracy": 1.0}
    # source b: fake 0.4; reals 0.6, 0.1 -> 1 of 2 pairs; right: 0.1 only -> 1/3
    assert by_source["b"]["samples"] == 3
    assert by_source["b"]["roc_auc"] == pytest.approx(0.5)
    assert by_source["b"]["accuracy"] == pytest.approx(1 / 3)

    by_method = ev.breakdown(items, "method")
    # a method's fakes against all 4 reals (0.3, 0.6, 0.1, 0.2)
    assert by_method["swap"]["roc_auc"] == pytest.approx((4 + 3.5) / 8)
    assert by_method["reenact"]["roc_auc"] == pytest.approx((3 + 4) / 8)
    assert by_method["none"]["roc_auc"] is None
    assert by_method["none"]["accuracy"] == pytest.approx(3 / 4)


def test_report_has_the_structure_the_detector_page_renders(tmp_path):
    items = scored()
    report = ev.report(items, items, split="a hand-made set")

    for key in ("split", "samples", "roc_auc", "accuracy", "balanced_accuracy", "log_loss", "threshold",
                "confusion", "by_source", "by_method", "roc"):
        assert key in report
    assert report["split"] == "a hand-made set"
    assert report["roc_auc"] == pytest.approx(14.5 / 16)
    assert set(report["confusion"]) == {"tp", "fp", "fn", "tn"}
    assert report["frame_level"]["samples"] == 8
    json.dumps(report)  # plain JSON

    ev.plot_roc(report, tmp_path / "roc.png")
    ev.plot_curves([{"stage": "frames", "epoch": 1, "train_loss": 0.7, "train_accuracy": 0.5, "val_loss": 0.6,
                     "val_accuracy": 0.6, "val_video_auc": 0.7}], tmp_path / "curves.png")
    for name in ("roc.png", "curves.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_no_scores_is_an_error():
    with pytest.raises(ValueError, match="no scores"):
        ev.binary_metrics([], [])
