"""Reads: every query is scoped to its owner."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from django.db.models import Count, F, Q, QuerySet
from django.utils import timezone

from dfdsite.errors import NotFound

from .models import Analysis, Batch, DetectorModel, WorkerHeartbeat
from .workers import SEEN_WITHIN_SECONDS

ANALYSES_PER_PAGE = 20
MAX_ANALYSES_PER_PAGE = 100

SORTS = {
    "newest": "-created_at",
    "oldest": "created_at",
    "most_fake": "-probability_fake",
    "least_fake": "probability_fake",
    "name": "original_name",
}


@dataclass(frozen=True)
class AnalysisFilters:
    status: str = ""
    verdict: str = ""
    band: str = ""
    created_from: date | None = None
    created_to: date | None = None
    search: str = ""
    sort: str = "newest"


def analysis_list(*, owner, filters: AnalysisFilters | None = None) -> QuerySet[Analysis]:
    filters = filters or AnalysisFilters()
    queryset = Analysis.objects.filter(owner=owner).select_related("detector")
    if filters.status:
        queryset = queryset.filter(status=filters.status)
    if filters.verdict:
        queryset = queryset.filter(verdict=filters.verdict)
    if filters.band:
        queryset = queryset.filter(band=filters.band)
    if filters.created_from:
        queryset = queryset.filter(created_at__date__gte=filters.created_from)
    if filters.created_to:
        queryset = queryset.filter(created_at__date__lte=filters.created_to)
    if filters.search:
        queryset = queryset.filter(original_name__icontains=filters.search)
    order = SORTS.get(filters.sort, SORTS["newest"])
    # Analyses without a score sort last whichever way the scores go.
    if order == "-probability_fake":
        return queryset.order_by(F("probability_fake").desc(nulls_last=True), "-created_at")
    if order == "probability_fake":
        return queryset.order_by(F("probability_fake").asc(nulls_last=True), "-created_at")
    return queryset.order_by(order, "-created_at")


def analysis_get(*, owner, analysis_id) -> Analysis:
    """The owner's analysis, or 404: other people's analyses do not exist for you."""
    analysis = Analysis.objects.filter(owner=owner, id=analysis_id).select_related("detector").first()
    if analysis is None:
        raise NotFound("No such analysis.")
    return analysis


def frames_that_looked_manipulated(frames) -> list:
    """Heat maps explain "manipulated": only the faces that pushed the verdict that way, most suspicious first."""
    return [frame for frame in sorted(frames, key=lambda f: -f.probability_fake)
            if frame.heatmap and frame.probability_fake >= 0.5]


def analysis_counts(*, owner) -> dict[str, int]:
    return Analysis.objects.filter(owner=owner).aggregate(
        total=Count("id"),
        fake=Count("id", filter=Q(verdict=Analysis.Verdict.FAKE)),
        real=Count("id", filter=Q(verdict=Analysis.Verdict.REAL)),
        running=Count("id", filter=Q(status__in=[Analysis.Status.QUEUED, Analysis.Status.PROCESSING])),
    )


def worker_seen_recently() -> bool:
    """Whether any worker said it was alive within the last minute."""
    since = timezone.now() - timedelta(seconds=SEEN_WITHIN_SECONDS)
    return WorkerHeartbeat.objects.filter(seen_at__gte=since).exists()


def detector_list() -> QuerySet[DetectorModel]:
    return DetectorModel.objects.all()


def detector_get(*, detector_id: int) -> DetectorModel:
    detector = DetectorModel.objects.filter(id=detector_id).annotate(analyses_count=Count("analyses")).first()
    if detector is None:
        raise NotFound("No such detector.")
    return detector


def detector_members(*, detector: DetectorModel) -> list[dict]:
    """An ensemble's members, each with its registered detector where there is one."""
    by_sha = {d.sha256: d for d in DetectorModel.objects.filter(sha256__in=[m["sha256"] for m in detector.members])}
    return [{**member, "detector": by_sha.get(member["sha256"])} for member in detector.members]


# --- Batches -----------------------------------------------------------------------------------

BATCHES_PER_PAGE = 20


def batch_list(*, owner) -> QuerySet[Batch]:
    """The owner's batches, newest first, with how many analyses each holds and has finished."""
    return Batch.objects.filter(owner=owner).annotate(
        total=Count("analyses"),
        finished=Count("analyses", filter=Q(analyses__status__in=FINISHED)),
        failed=Count("analyses", filter=Q(analyses__status=Analysis.Status.FAILED)),
        fake=Count("analyses", filter=Q(analyses__verdict=Analysis.Verdict.FAKE)),
    ).order_by("-created_at")


def batch_get(*, owner, batch_id) -> Batch:
    """The owner's batch, or 404: other people's batches do not exist for you."""
    batch = Batch.objects.filter(owner=owner, id=batch_id).first()
    if batch is None:
        raise NotFound("No such batch.")
    return batch


def batch_analyses(*, batch: Batch) -> QuerySet[Analysis]:
    return Analysis.objects.filter(batch=batch, owner=batch.owner).select_related("detector").order_by("created_at")


FINISHED = (Analysis.Status.DONE, Analysis.Status.FAILED, Analysis.Status.CANCELLED)


@dataclass(frozen=True)
class BatchSummary:
    total: int
    finished: int
    progress: int  # percent of the work done, finished analyses counting 100
    by_status: dict[str, int]
    by_verdict: dict[str, int]
    by_band: dict[str, int]

    @property
    def is_finished(self) -> bool:
        return self.finished == self.total


def batch_summary(*, batch: Batch) -> BatchSummary:
    """Counts per status, verdict and band (every choice, zeros included), and overall progress."""
    rows = list(batch_analyses(batch=batch).values_list("status", "verdict", "band", "progress"))
    by_status = {value: 0 for value in Analysis.Status.values}
    by_verdict = {value: 0 for value in Analysis.Verdict.values}
    by_band = {value: 0 for value in Analysis.Band.values}
    done_percent = 0
    for status, verdict, band, progress in rows:
        by_status[status] += 1
        if verdict:
            by_verdict[verdict] += 1
        if band:
            by_band[band] += 1
        done_percent += 100 if status in FINISHED else progress
    finished = sum(by_status[status] for status in FINISHED)
    return BatchSummary(total=len(rows), finished=finished, progress=done_percent // len(rows) if rows else 100,
                        by_status=by_status, by_verdict=by_verdict, by_band=by_band)
