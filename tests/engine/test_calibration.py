"""Calibration and verdict bands on fixed scores whose answers are worked out by hand."""

import math

import pytest

from detection.engine.calibration import (
    INCONCLUSIVE,
    MANIPULATED,
    NO_MANIPULATION,
    Calibration,
    band_report,
    choose_thresholds,
    expected_calibration_error,
    fit_platt,
    fit_temperature,
    reliability,
    sigmoid,
)


def test_temperature_fits_an_over_confident_score():
    # Every item scores sigmoid(2) = 0.881 but only 3 in 4 are fakes: the best calibrated score
    # is 0.75, so sigmoid(2 / T) = 0.75, T = 2 / ln 3 = 1.8205. Mirrored for the other side.
    high, low = float(sigmoid(2.0)), float(sigmoid(-2.0))
    probabilities = [high] * 4 + [low] * 4
    labels = [1, 1, 1, 0] + [0, 0, 0, 1]
    temperature = fit_temperature(probabilities, labels)
    assert temperature == pytest.approx(2 / math.log(3), rel=1e-4)
    assert Calibration(temperature=temperature).probability(high) == pytest.approx(0.75, abs=1e-4)


def test_platt_scaling_fits_a_score_that_leans_to_one_side():
    # Items at logit +1 are fakes 3 times in 4, items at logit -1 half the time. Two points, two
    # parameters: the fit matches both shares, a + b = ln 3 and -a + b = 0, so the slope a = 1 / T
    # and the bias b are both ln(3) / 2, and T = 2 / ln 3 = 1.8205.
    high, low = float(sigmoid(1.0)), float(sigmoid(-1.0))
    probabilities = [high] * 4 + [low] * 4
    labels = [1, 1, 1, 0] + [1, 0, 1, 0]
    temperature, bias = fit_platt(probabilities, labels)
    assert temperature == pytest.approx(2 / math.log(3), rel=1e-6)
    assert bias == pytest.approx(math.log(3) / 2, rel=1e-6)
    calibration = Calibration(temperature=temperature, bias=bias)
    assert calibration.probability(high) == pytest.approx(0.75) and calibration.probability(low) == pytest.approx(0.5)
    # Temperature scaling alone cannot move the middle: 0.5 stays 0.5.
    assert Calibration(temperature=fit_temperature(probabilities, labels)).probability(0.5) == pytest.approx(0.5)


def test_temperature_keeps_the_ranking_and_one_is_the_identity():
    calibration = Calibration(temperature=2.5)
    scores = [0.05, 0.3, 0.5, 0.7, 0.99]
    calibrated = [calibration.probability(p) for p in scores]
    assert calibrated == sorted(calibrated) and calibrated[2] == pytest.approx(0.5)
    assert Calibration().probability(0.83) == pytest.approx(0.83)


def test_expected_calibration_error_by_hand():
    # Bin [0.9, 1.0): mean 0.9, observed 1/2 -> |0.4| x 2/4 = 0.2. Bin [0.1, 0.2): mean 0.1,
    # observed 0 -> 0.1 x 2/4 = 0.05. ECE = 0.25.
    probabilities, labels = [0.9, 0.9, 0.1, 0.1], [1, 0, 0, 0]
    assert expected_calibration_error(probabilities, labels) == pytest.approx(0.25)
    assert reliability(probabilities, labels) == [
        {"low": 0.1, "high": 0.2, "count": 2, "predicted": pytest.approx(0.1), "observed": 0.0},
        {"low": 0.9, "high": 1.0, "count": 2, "predicted": pytest.approx(0.9), "observed": 0.5},
    ]


def test_thresholds_by_hand():
    probabilities = [0.1, 0.2, 0.3, 0.4, 0.6, 0.7, 0.8, 0.9]
    labels = [0, 0, 1, 0, 1, 0, 1, 1]
    # p >= 0.6 holds 3 fakes of 4 (precision 0.75); p >= 0.4 holds 3 of 5 (0.6).
    # Fakes score 0.3, 0.6, 0.8, 0.9: a miss rate of 0.25 lets one (0.3) fall below 0.6.
    assert choose_thresholds(probabilities, labels, precision=0.75, miss_rate=0.25) == (0.6, 0.6)
    # A miss rate of 0 puts the lower threshold at the lowest fake: p < 0.3 holds only reals.
    assert choose_thresholds(probabilities, labels, precision=1.0, miss_rate=0.0) == (0.3, 0.8)


def test_bands_and_what_they_hold():
    calibration = Calibration(likely_at=0.8, clear_below=0.3)
    assert [calibration.band(p) for p in (0.95, 0.8, 0.79, 0.3, 0.29)] == [
        MANIPULATED, MANIPULATED, INCONCLUSIVE, INCONCLUSIVE, NO_MANIPULATION]
    report = band_report([0.1, 0.2, 0.3, 0.4, 0.6, 0.7, 0.8, 0.9], [0, 0, 1, 0, 1, 0, 1, 1], calibration)
    assert report[MANIPULATED] == {"count": 2, "fakes": 2} and report["precision_manipulated"] == 1.0
    assert report[NO_MANIPULATION] == {"count": 2, "fakes": 0} and report["miss_rate_no_manipulation"] == 0.0
    assert report[INCONCLUSIVE] == {"count": 4, "fakes": 2}


def test_a_calibration_round_trips_and_refuses_nonsense():
    calibration = Calibration(temperature=1.7, likely_at=0.7, clear_below=0.2, fitted_on="validation")
    assert Calibration.from_dict(calibration.to_dict()) == calibration
    assert Calibration.from_dict(None) == Calibration()
    with pytest.raises(ValueError):
        Calibration(likely_at=0.2, clear_below=0.7)
    with pytest.raises(ValueError):
        Calibration(temperature=0)
