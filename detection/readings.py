"""What a verdict means, in plain words: one source for the result page, the shared page and the
reports (PDF and JSON), so that a verdict never reads one way on screen and another on paper."""

from __future__ import annotations

from .models import Analysis

_MANIPULATED = (
    "The faces in this {media} look like the manipulated videos the detector learned from, clearly enough that "
    "on test videos nine in ten scores this high were fakes. Treat it with suspicion and check where it comes from."
)
_INCONCLUSIVE = (
    "The detector cannot tell: the faces show some signs it associates with manipulation, not enough to say so. "
    "Neither trust nor distrust the {media} on this basis; check where it comes from."
)
_NO_MANIPULATION = (
    "The faces in this {media} look like the authentic videos the detector learned from: it found none of the "
    "signs of manipulation it knows. That is not proof that the {media} is genuine."
)
# Analyses judged before the calibrated bands existed have a verdict but no band.
_LIKELY_FAKE = ("The faces in this {media} look like the manipulated videos the detector learned from. Treat it "
                "with suspicion and check where it comes from.")
_NO_FACE = (
    "The detector judges faces, and it found none in what it looked at. It finds faces that look towards the "
    "camera, are lit well enough and fill a good part of the picture: a person standing far off, seen from the "
    "side or in a dim room is often missed."
)

SCORE_MEANS = (
    "How closely the faces resemble the manipulated videos the detector was trained on, from 0 (not at all) to "
    "100 (very closely). The verdict falls in one of three bands of this score, “manipulation likely”, "
    "“inconclusive” and “no manipulation found”, whose limits were chosen on test videos so that each means what "
    "it says."
)
SCORE_DOES_NOT_MEAN = (
    "It is not the chance that the {media} is fake, and it is not proof either way: a score of 70 does not mean "
    "“70% likely fake”. A detector can be confidently wrong, so weigh the source and context of the {media} "
    "before you decide anything."
)
BLIND_SPOTS = (
    "It often misses manipulations in heavily compressed video (clips re-shared many times) and made with methods "
    "that were not in its training data, and it judges faces only: not voice, text or context."
)
NOT_GENUINE_PROOF = "So “no manipulation found” means no known sign was found, not that the {media} is genuine."


def media_word(analysis: Analysis) -> str:
    return "image" if analysis.media_kind == Analysis.MediaKind.IMAGE else "video"


def verdict_reading(analysis: Analysis) -> dict[str, str]:
    """The verdict's title and its one-sentence reading (empty for an analysis not done)."""
    if analysis.status != Analysis.Status.DONE:
        return {"title": "", "sentence": ""}
    if analysis.verdict == Analysis.Verdict.NO_FACE:
        title, sentence = "No face found", _NO_FACE
    elif analysis.band == Analysis.Band.MANIPULATED:
        title, sentence = "Manipulation likely", _MANIPULATED
    elif analysis.band == Analysis.Band.INCONCLUSIVE:
        title, sentence = "Inconclusive", _INCONCLUSIVE
    elif analysis.band == Analysis.Band.NO_MANIPULATION or analysis.verdict == Analysis.Verdict.REAL:
        title, sentence = "No manipulation found", _NO_MANIPULATION
    else:
        title, sentence = "Likely manipulated", _LIKELY_FAKE
    return {"title": title, "sentence": sentence.format(media=media_word(analysis))}


def found_no_manipulation(analysis: Analysis) -> bool:
    return analysis.band == Analysis.Band.NO_MANIPULATION or (not analysis.band and
                                                              analysis.verdict == Analysis.Verdict.REAL)


def method_limits(analysis: Analysis, training_data: str = "") -> list[dict[str, str]]:
    """The limits of the method, as headed paragraphs: what the score means and does not mean,
    where the detector is blind, and what it was trained on."""
    media = media_word(analysis)
    blind = BLIND_SPOTS
    if found_no_manipulation(analysis):
        blind += " " + NOT_GENUINE_PROOF.format(media=media)
    limits = [
        {"title": "What the score means", "text": SCORE_MEANS},
        {"title": "What it does not mean", "text": SCORE_DOES_NOT_MEAN.format(media=media)},
        {"title": "Where it is blind", "text": blind},
    ]
    if training_data:
        limits.append({"title": "What it learned from", "text": (
            f"The detector knows only the kinds of manipulation in its training data: {training_data}. "
            "Newer or different methods may go unnoticed.")})
    return limits
