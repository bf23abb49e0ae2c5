"""Calibrated scores and three verdict bands. Plain NumPy, no Django.

A detector's raw probability of FAKE is often over-confident (a compressed fake read as
"authentic, 94%"). Temperature scaling divides the logit by one number T fitted on validation
data (T > 1 softens, T < 1 sharpens; the ranking, and so the AUC, never changes). Platt
scaling adds a bias b after it, sigmoid(logit(p) / T + b), for scores that lean to one side
(an ensemble's weighted logits can). Two thresholds on the calibrated probability then make
three bands, each chosen to mean what it says on validation data:

- ``manipulated``: p >= ``likely_at``, chosen so that the band's precision (the share of
  fakes among what lands there) reaches a target;
- ``no_manipulation``: p < ``clear_below``, chosen so that at most a target share of all
  fakes (the miss rate) lands there;
- ``inconclusive``: in between.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

MANIPULATED, INCONCLUSIVE, NO_MANIPULATION = "manipulated", "inconclusive", "no_manipulation"
_EPS = 1e-7


def logit(p: np.ndarray | float) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), _EPS, 1 - _EPS)
    return np.log(p / (1 - p))


def sigmoid(x: np.ndarray | float) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float64)))


@dataclass(frozen=True)
class Calibration:
    temperature: float = 1.0
    likely_at: float = 0.5
    clear_below: float = 0.5
    # What the thresholds were chosen for, and what they gave, on validation data (for the card).
    fitted_on: str = ""
    metrics: dict | None = None
    bias: float = 0.0  # Platt scaling's shift of the scaled logit (0: temperature scaling alone)

    def __post_init__(self):
        if not self.temperature > 0:
            raise ValueError(f"temperature must be positive, got {self.temperature}")
        if not 0 <= self.clear_below <= self.likely_at <= 1:
            raise ValueError(f"need 0 <= clear_below ({self.clear_below}) <= likely_at ({self.likely_at}) <= 1")

    def probability(self, raw: float) -> float:
        if self.temperature == 1.0 and self.bias == 0.0:
            return float(raw)  # exactly: the seed's reproduction compares these to 1e-4
        return float(sigmoid(logit(raw) / self.temperature + self.bias))

    def band(self, probability: float) -> str:
        """The band of a calibrated probability."""
        if probability >= self.likely_at:
            return MANIPULATED
        if probability < self.clear_below:
            return NO_MANIPULATION
        return INCONCLUSIVE

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict | None) -> Calibration:
        return cls(**data) if data else cls()


def fit_temperature(probabilities: Sequence[float], labels: Sequence[int]) -> float:
    """The T that minimises the negative log-likelihood of sigmoid(logit(p) / T) on (p, label)
    pairs, label 1 = fake. A golden-section search over log T in [1/20, 20]: the NLL is
    unimodal in T for this one-parameter family."""
    z = logit(probabilities)
    y = np.asarray(labels, dtype=np.float64)

    def nll(log_t: float) -> float:
        scaled = z / math.exp(log_t)
        # log(1 + e^x) - y x, written to stay finite for large |x|
        return float(np.mean(np.logaddexp(0.0, scaled) - y * scaled))

    low, high = math.log(1 / 20), math.log(20)
    ratio = (math.sqrt(5) - 1) / 2
    a, b = high - ratio * (high - low), low + ratio * (high - low)
    for _ in range(100):
        if nll(a) < nll(b):
            high, b = b, a
            a = high - ratio * (high - low)
        else:
            low, a = a, b
            b = low + ratio * (high - low)
    return math.exp((low + high) / 2)


def fit_platt(probabilities: Sequence[float], labels: Sequence[int]) -> tuple[float, float]:
    """(T, b) minimising the negative log-likelihood of sigmoid(logit(p) / T + b), label 1 =
    fake: a logistic regression on the logit, by Newton's method. Falls back to temperature
    scaling alone (b = 0) when the slope comes out not positive (scores that rank backwards)."""
    z = logit(probabilities)
    y = np.asarray(labels, dtype=np.float64)
    features = np.stack([z, np.ones_like(z)], axis=1)
    params = np.array([1.0, 0.0])
    for _ in range(100):
        p = sigmoid(features @ params)
        gradient = features.T @ (p - y)
        hessian = features.T @ (features * (p * (1 - p))[:, None]) + 1e-9 * np.eye(2)
        step = np.linalg.solve(hessian, gradient)
        params -= step
        if np.abs(step).max() < 1e-10:
            break
    slope, bias = params
    if not slope > 0 or not np.isfinite(params).all():
        return fit_temperature(probabilities, labels), 0.0
    return float(1 / slope), float(bias)


def reliability(probabilities: Sequence[float], labels: Sequence[int], bins: int = 10) -> list[dict]:
    """Per equal-width bin of predicted probability: its count, mean prediction and observed
    share of fakes (the points of a reliability diagram). Empty bins are left out."""
    p = np.asarray(probabilities, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    index = np.minimum((p * bins).astype(int), bins - 1)
    rows = []
    for b in range(bins):
        chosen = index == b
        if chosen.any():
            rows.append({"low": b / bins, "high": (b + 1) / bins, "count": int(chosen.sum()),
                         "predicted": float(p[chosen].mean()), "observed": float(y[chosen].mean())})
    return rows


def expected_calibration_error(probabilities: Sequence[float], labels: Sequence[int], bins: int = 10) -> float:
    """Sum over bins of (share of items in the bin) x |mean prediction - observed share of fakes|."""
    total = len(probabilities)
    return float(sum(row["count"] / total * abs(row["predicted"] - row["observed"])
                     for row in reliability(probabilities, labels, bins)))


def choose_thresholds(probabilities: Sequence[float], labels: Sequence[int], *, precision: float = 0.9,
                      miss_rate: float = 0.1) -> tuple[float, float]:
    """(clear_below, likely_at) from validation scores (label 1 = fake).

    likely_at: the lowest score t at which the items with p >= t are fakes at least
    ``precision`` of the time (1.0, an empty band, when no t reaches it). clear_below: the
    highest score t for which the fakes with p < t are at most ``miss_rate`` of all fakes,
    capped at likely_at so that the bands never overlap."""
    p = np.asarray(probabilities, dtype=np.float64)
    y = np.asarray(labels, dtype=np.int64)
    candidates = np.unique(p)
    likely_at = 1.0
    for t in candidates:
        above = p >= t
        if y[above].mean() >= precision:
            likely_at = float(t)
            break
    fakes = np.sort(p[y == 1])
    allowed = math.floor(miss_rate * len(fakes) + 1e-9)  # fakes that may fall below the threshold
    clear_below = float(fakes[allowed]) if allowed < len(fakes) else 1.0
    return min(clear_below, likely_at), likely_at


def band_report(probabilities: Sequence[float], labels: Sequence[int], calibration: Calibration) -> dict:
    """What each band holds on labelled data: counts, the precision of "manipulated" and the
    miss rate of "no manipulation found" (fakes there, over all fakes)."""
    bands = [calibration.band(float(p)) for p in probabilities]
    y = np.asarray(labels, dtype=np.int64)
    report = {}
    for name in (MANIPULATED, INCONCLUSIVE, NO_MANIPULATION):
        chosen = np.array([b == name for b in bands])
        report[name] = {"count": int(chosen.sum()), "fakes": int(y[chosen].sum()) if chosen.any() else 0}
    manipulated = report[MANIPULATED]
    report["precision_manipulated"] = manipulated["fakes"] / manipulated["count"] if manipulated["count"] else None
    total_fakes = int(y.sum())
    report["miss_rate_no_manipulation"] = report[NO_MANIPULATION]["fakes"] / total_fakes if total_fakes else None
    return report
