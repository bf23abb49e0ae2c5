from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from dfdsite.errors import Conflict, DomainError, LimitReached, StorageUnavailable
from dfdsite.http_errors import json_form_errors, status_for
from dfdsite.middleware import large_body, wants_json

from . import batches, files, registry, reports, selectors, services
from .charts import roc_chart, score_chart, still_boxes
from .forms import AnalysisFilterForm, AnalysisRetryForm, AnalysisUploadForm
from .models import Analysis


@require_GET
def home(request):
    return render(request, "detection/home.html", {
        "counts": selectors.analysis_counts(owner=request.user),
        "recent": selectors.analysis_list(owner=request.user)[:6],
        "has_detector": selectors.detector_list().exists(),
    })


@require_GET
def analysis_list(request):
    form = AnalysisFilterForm(request.GET or None)
    filters = selectors.AnalysisFilters()
    if form.is_valid():
        data = form.cleaned_data
        filters = selectors.AnalysisFilters(
            status=data["status"], verdict=data["verdict"], band=data["band"], created_from=data["created_from"],
            created_to=data["created_to"], search=data["q"].strip(), sort=data["sort"] or "newest",
        )
    analyses = selectors.analysis_list(owner=request.user, filters=filters)
    page = Paginator(analyses, selectors.ANALYSES_PER_PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "detection/analysis_list.html", {
        "form": form, "page": page, "query": query.urlencode(), "filtered": filters != selectors.AnalysisFilters(),
        "has_any": selectors.analysis_list(owner=request.user).exists(),
    })


@large_body(batches.batch_body_limit, batches.batch_too_large)  # the form takes a batch; larger are refused unread
@require_http_methods(["GET", "POST"])
def analysis_new(request):
    has_detector = selectors.detector_list().exists()
    form = AnalysisUploadForm()
    status = 200
    if request.method == "POST":
        form = AnalysisUploadForm(request.POST, request.FILES)
        if form.is_valid() and form.item_count > 1:
            submission, status = _submit_batch(request, form)
            if submission.batch is not None:
                url = reverse("detection:batch_detail", args=[submission.batch.id])
                if wants_json(request):
                    return JsonResponse({"id": str(submission.batch.id), "url": url}, status=201)
                return redirect(url)
        elif form.is_valid():
            data = form.cleaned_data
            options = dict(owner=request.user, frames=data["frames"], strategy=data["strategy"],
                           detector=data.get("detector"))
            try:
                if data["url"]:
                    analysis = services.analysis_create_from_link(url=data["url"], **options)
                else:
                    analysis = services.analysis_create(file=data["file"][0], **options)
            except DomainError as error:
                form.add_error(error.field if error.field in form.fields else None, error.message)
                status = status_for(error)
            else:
                url = reverse("detection:analysis_detail", args=[analysis.id])
                if wants_json(request):
                    return JsonResponse({"id": str(analysis.id), "url": url}, status=201)
                return redirect(url)
        else:
            status = 400
        if wants_json(request):
            return json_form_errors(form, status)
    return render(request, "detection/analysis_new.html", {
        "form": form, "has_detector": has_detector, "max_upload_mb": settings.DFD_MAX_UPLOAD_BYTES // (1024 * 1024),
        "max_duration": settings.DFD_MAX_DURATION_SECONDS,
    }, status=status)


def _submit_batch(request, form) -> tuple[batches.BatchSubmission, int]:
    """Several videos (or videos and a link) from the form: a batch. What was refused is said file by
    file: on the batch page (messages) when some went ahead, on the form when none did."""
    data = form.cleaned_data
    status = 201
    try:
        submission = batches.batch_submit(
            owner=request.user, files=data["file"], urls=[data["url"]], name=data["name"], frames=data["frames"],
            strategy=data["strategy"], detector=data.get("detector"),
        )
    except DomainError as error:
        form.add_error(error.field if error.field in form.fields else None, error.message)
        return batches.BatchSubmission(batch=None), status_for(error)
    if submission.batch is None:
        status = batches.refusals_error(submission.refused)[0]
    for refusal in submission.refused:
        if submission.batch is None:
            form.add_error(refusal.field, f"{refusal.name}: {refusal.message}")
        else:
            messages.warning(request, f"“{refusal.name}” was not accepted: {refusal.message}")
    return submission, status


def _no_worker_seen(analysis: Analysis) -> bool:
    return analysis.status == Analysis.Status.QUEUED and not selectors.worker_seen_recently()


@require_GET
def analysis_detail(request, analysis_id):
    analysis = selectors.analysis_get(owner=request.user, analysis_id=analysis_id)
    frames = list(analysis.frames.all())
    for frame in frames:  # detection/_frames.html is shared with share links, which serve them by token
        frame.thumbnail_url = reverse("detection:frame_thumbnail", args=[analysis.id, frame.index])
        frame.heatmap_url = reverse("detection:frame_heatmap", args=[analysis.id, frame.index])
    heatmaps = selectors.frames_that_looked_manipulated(frames)
    still = analysis.media_kind == Analysis.MediaKind.IMAGE
    return render(request, "detection/analysis_detail.html", {
        "analysis": analysis, "frames": frames, "heatmaps": heatmaps, "no_worker": _no_worker_seen(analysis),
        "chart": score_chart(frames, analysis.duration_seconds) if frames and not still else None,
        # A photo: each face's box over it, and the face whose score is the verdict.
        "still_boxes": still_boxes(frames, analysis.width, analysis.height) if still else [],
        "still_url": reverse("detection:analysis_video", args=[analysis.id]),
        "top_face": max(frames, key=lambda f: f.probability_fake) if still and frames else None,
        "retry_form": AnalysisRetryForm(analysis=analysis) if analysis.is_finished else None,
    })


@require_GET
def analysis_status(request, analysis_id):
    analysis = selectors.analysis_get(owner=request.user, analysis_id=analysis_id)
    return JsonResponse({
        "id": str(analysis.id), "status": analysis.status, "stage": analysis.stage, "progress": analysis.progress,
        "status_label": analysis.get_status_display(), "stage_label": analysis.stage_label,
        "verdict": analysis.verdict, "probability_fake": analysis.probability_fake,
        "error_message": analysis.error_message, "finished": analysis.is_finished,
        "no_worker": _no_worker_seen(analysis),
    })


@require_POST
def analysis_delete(request, analysis_id):
    analysis = selectors.analysis_get(owner=request.user, analysis_id=analysis_id)
    try:
        services.analysis_delete(analysis=analysis)
    except StorageUnavailable as error:
        messages.error(request, error.message)
        return redirect("detection:analysis_detail", analysis_id=analysis.id)
    messages.success(request, f"Deleted the analysis of “{analysis.original_name}” and its files.")
    return redirect("detection:analysis_list")


@require_POST
def analysis_retry(request, analysis_id):
    analysis = selectors.analysis_get(owner=request.user, analysis_id=analysis_id)
    form = AnalysisRetryForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(message for errors in form.errors.values() for message in errors))
        return redirect("detection:analysis_detail", analysis_id=analysis.id)
    try:
        services.analysis_retry(analysis=analysis, **form.options())
    except (Conflict, LimitReached) as error:
        messages.error(request, error.message)
    else:
        messages.success(request, "The analysis was queued again.")
    return redirect("detection:analysis_detail", analysis_id=analysis.id)


@require_POST
def analysis_cancel(request, analysis_id):
    analysis = selectors.analysis_get(owner=request.user, analysis_id=analysis_id)
    try:
        services.analysis_cancel(analysis=analysis)
    except Conflict as error:
        messages.error(request, error.message)
    else:
        messages.success(request, "The analysis was cancelled. Its video is kept: you can run it again.")
    return redirect("detection:analysis_detail", analysis_id=analysis.id)


@require_GET
def analysis_file(request, analysis_id, kind, index=None):
    """A stored file, to its owner only (see detection.files)."""
    analysis = selectors.analysis_get(owner=request.user, analysis_id=analysis_id)
    return files.serve_analysis_file(analysis, kind, index, range_header=request.headers.get("Range", ""))


@require_GET
def analysis_report_pdf(request, analysis_id):
    analysis = selectors.analysis_get(owner=request.user, analysis_id=analysis_id)
    return reports.report_pdf_response(analysis)


@require_GET
def analysis_report_json(request, analysis_id):
    analysis = selectors.analysis_get(owner=request.user, analysis_id=analysis_id)
    return reports.report_json_response(analysis)


@require_GET
def detector_list(request):
    detectors = list(selectors.detector_list())
    for detector in detectors:
        detector.status = registry.detector_check(detector)
    return render(request, "detection/detector_list.html", {"detectors": detectors})


@require_GET
def detector_detail(request, detector_id):
    detector = selectors.detector_get(detector_id=detector_id)
    return render(request, "detection/detector_detail.html", {
        "detector": detector, "status": registry.detector_check(detector), "metrics": detector.metrics,
        "roc": roc_chart(detector.metrics.get("roc")), "members": selectors.detector_members(detector=detector),
    })


# --- Batches -------------------------------------------------------------------------------------


@require_GET
def batch_list(request):
    page = Paginator(selectors.batch_list(owner=request.user), selectors.BATCHES_PER_PAGE).get_page(
        request.GET.get("page"))
    return render(request, "detection/batch_list.html", {"page": page})


@require_GET
def batch_detail(request, batch_id):
    batch = selectors.batch_get(owner=request.user, batch_id=batch_id)
    summary = selectors.batch_summary(batch=batch)
    return render(request, "detection/batch_detail.html", {
        "batch": batch, "summary": summary, "analyses": selectors.batch_analyses(batch=batch),
        "verdicts": [(Analysis.Verdict(value).label, value, count) for value, count in summary.by_verdict.items()],
        "bands": [(Analysis.Band(value).label, value, count) for value, count in summary.by_band.items()],
        "statuses": [(Analysis.Status(value).label, value, count) for value, count in summary.by_status.items()],
    })


@require_POST
def batch_delete(request, batch_id):
    batch = selectors.batch_get(owner=request.user, batch_id=batch_id)
    try:
        batches.batch_delete(batch=batch)
    except StorageUnavailable as error:
        messages.error(request, error.message)
        return redirect("detection:batch_detail", batch_id=batch.id)
    messages.success(request, f"Deleted the batch “{batch.name}” with its analyses and their files.")
    return redirect("detection:batch_list")


@require_GET
def batch_export(request, batch_id, kind):
    batch = selectors.batch_get(owner=request.user, batch_id=batch_id)
    disposition = f'attachment; filename="batch-{batch.id}.{kind}"'
    if kind == "csv":
        return HttpResponse(batches.batch_export_csv(batch=batch), content_type="text/csv; charset=utf-8",
                            headers={"Content-Disposition": disposition})
    body = {"id": str(batch.id), "name": batch.name, "created_at": batch.created_at.isoformat(),
            "analyses": batches.batch_export_rows(batch=batch)}
    return JsonResponse(body, headers={"Content-Disposition": disposition}, json_dumps_params={"indent": 2})
