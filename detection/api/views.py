"""REST API v1: thin views over detection.services / selectors (the token views are in accounts.api).

Every query is scoped to the requesting user: other people's analyses are 404.
"""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from dfdsite.api import ApiView, error_responses
from dfdsite.errors import Invalid
from dfdsite.http_errors import error_body

from .. import batches, files, reports, selectors, services
from ..uploads import CONTAINERS
from . import serializers as s
from .health import health_check
from .throttling import UploadThrottle


class AnalysisPagination(PageNumberPagination):
    page_size = selectors.ANALYSES_PER_PAGE
    page_size_query_param = "page_size"
    max_page_size = selectors.MAX_ANALYSES_PER_PAGE


# --- Analyses ----------------------------------------------------------------------------------


class AnalysisListCreateApi(ApiView):
    name = "Analyses"

    def get_throttles(self):
        throttles = super().get_throttles()
        if self.request.method == "POST":
            throttles.append(UploadThrottle())
        return throttles

    @extend_schema(
        operation_id="analyses_list", summary="List your analyses",
        parameters=[s.AnalysisFilterSerializer],
        responses={200: s.AnalysisPageSerializer, **error_responses(400, 401, 404, 429)},
    )
    def get(self, request):
        query = s.AnalysisFilterSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        filters = selectors.AnalysisFilters(
            status=data.get("status", ""), verdict=data.get("verdict", ""), band=data.get("band", ""),
            created_from=data.get("created_from"),
            created_to=data.get("created_to"), search=data.get("search", "").strip(),
            sort=s.ORDERINGS[data.get("ordering") or "-created_at"],
        )
        paginator = AnalysisPagination()
        page = paginator.paginate_queryset(selectors.analysis_list(owner=request.user, filters=filters), request, self)
        body = s.AnalysisListItemSerializer(page, many=True, context={"request": request}).data
        return paginator.get_paginated_response(body)

    @extend_schema(
        operation_id="analyses_create", summary="Upload a video, or give a link to one, for analysis",
        description="Validates the video like the upload form (content, size, duration, pixels) and queues it. "
                    "Answers 202 with the analysis; poll `status_url` (also in `Location`) until `finished`. With "
                    "`url` instead of `file`, the link's host is checked at once and the worker fetches the video "
                    "(stage `download`); a fetch that fails ends the analysis as failed, with a message.",
        request={"multipart/form-data": s.AnalysisCreateSerializer},
        responses={202: s.AnalysisCreatedSerializer, **error_responses(400, 401, 403, 413, 415, 429, 503)},
    )
    def post(self, request):
        if len(request.FILES.getlist("file")) > 1:  # taking one of them would analyse a video nobody chose
            raise Invalid("Several files were sent: send them to /api/v1/batches/, which takes many.",
                          code="too_many_files", field="file")
        form = s.AnalysisCreateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        options = dict(owner=request.user, frames=data["frames"], strategy=data["strategy"],
                       detector=data.get("detector"))
        if data.get("url"):
            analysis = services.analysis_create_from_link(url=data["url"], **options)
        else:
            analysis = services.analysis_create(file=data["file"], **options)
        body = s.AnalysisCreatedSerializer(analysis, context={"request": request}).data
        return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": body["status_url"]})


class AnalysisDetailApi(ApiView):
    name = "Analysis"

    @extend_schema(
        operation_id="analyses_retrieve", summary="An analysis: status, progress, verdict, per-frame scores",
        responses={200: s.AnalysisSerializer, **error_responses(401, 404, 429)},
    )
    def get(self, request, analysis_id):
        analysis = selectors.analysis_get(owner=request.user, analysis_id=analysis_id)
        return Response(s.AnalysisSerializer(analysis, context={"request": request}).data)

    @extend_schema(
        operation_id="analyses_destroy", summary="Delete an analysis, its video and every result file",
        responses={204: OpenApiResponse(description="Deleted."), **error_responses(401, 403, 404, 429, 503)},
    )
    def delete(self, request, analysis_id):
        analysis = selectors.analysis_get(owner=request.user, analysis_id=analysis_id)
        services.analysis_delete(analysis=analysis)
        return Response(status=status.HTTP_204_NO_CONTENT)


class AnalysisRetryApi(ApiView):
    name = "Retry an analysis"

    @extend_schema(
        operation_id="analyses_retry", summary="Queue a finished analysis again, from scratch",
        request=None,
        responses={202: s.AnalysisCreatedSerializer, **error_responses(401, 403, 404, 409, 429)},
    )
    def post(self, request, analysis_id):
        analysis = selectors.analysis_get(owner=request.user, analysis_id=analysis_id)
        analysis = services.analysis_retry(analysis=analysis)
        body = s.AnalysisCreatedSerializer(analysis, context={"request": request}).data
        return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": body["status_url"]})


class AnalysisCancelApi(ApiView):
    name = "Cancel an analysis"

    @extend_schema(
        operation_id="analyses_cancel", summary="Stop a queued or running analysis; its video is kept",
        description="The worker stops at its next stage and removes what it wrote. `409` when it has "
                    "already finished.",
        request=None,
        responses={200: s.AnalysisSerializer, **error_responses(401, 403, 404, 409, 429)},
    )
    def post(self, request, analysis_id):
        analysis = selectors.analysis_get(owner=request.user, analysis_id=analysis_id)
        analysis = services.analysis_cancel(analysis=analysis)
        return Response(s.AnalysisSerializer(analysis, context={"request": request}).data)


# --- Batches -----------------------------------------------------------------------------------


class BatchPagination(PageNumberPagination):
    page_size = selectors.BATCHES_PER_PAGE
    page_size_query_param = "page_size"
    max_page_size = selectors.MAX_ANALYSES_PER_PAGE


class BatchListCreateApi(ApiView):
    name = "Batches"

    def get_throttles(self):
        throttles = super().get_throttles()
        if self.request.method == "POST":
            throttles.append(UploadThrottle())
        return throttles

    @extend_schema(
        operation_id="batches_list", summary="List your batches",
        parameters=[s.PageSerializer], responses={200: s.BatchPageSerializer, **error_responses(400, 401, 404, 429)},
    )
    def get(self, request):
        query = s.PageSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        paginator = BatchPagination()
        page = paginator.paginate_queryset(selectors.batch_list(owner=request.user), request, self)
        return paginator.get_paginated_response(s.BatchListItemSerializer(page, many=True,
                                                                          context={"request": request}).data)

    @extend_schema(
        operation_id="batches_create", summary="Send several videos and links at once",
        description="Each `file` and `url` part becomes its own analysis in a new batch, checked on its own "
                    "(content, size, duration, per-person limits): the accepted ones are queued, the refused "
                    "ones are listed in `refused` with the reason. Answers 202 with the batch (also in "
                    "`Location`) when at least one was accepted; when none was, the error says why for each in "
                    "`fields` (`file.0`, `url.1`, ...) and no batch is kept.",
        request={"multipart/form-data": s.BatchCreateSerializer},
        responses={202: s.BatchCreatedSerializer, **error_responses(400, 401, 403, 413, 415, 429, 503)},
    )
    def post(self, request):
        form = s.BatchCreateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        submission = batches.batch_submit(
            owner=request.user, files=data["file"], urls=data["url"], name=data.get("name", ""),
            frames=data["frames"], strategy=data["strategy"], detector=data.get("detector"),
        )
        if submission.batch is None:
            code_status, code, message, fields = batches.refusals_error(submission.refused)
            return Response(error_body(code_status, code, message, fields), status=code_status)
        body = s.BatchCreatedSerializer(submission, context={"request": request}).data
        return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": body["batch"]["url"]})


class BatchDetailApi(ApiView):
    name = "Batch"

    @extend_schema(
        operation_id="batches_retrieve", summary="A batch: counts per status, verdict and band, progress, analyses",
        responses={200: s.BatchSerializer, **error_responses(401, 404, 429)},
    )
    def get(self, request, batch_id):
        batch = selectors.batch_get(owner=request.user, batch_id=batch_id)
        return Response(s.BatchSerializer(batch, context={"request": request}).data)

    @extend_schema(
        operation_id="batches_destroy", summary="Delete a batch with its analyses, their videos and results",
        responses={204: OpenApiResponse(description="Deleted."), **error_responses(401, 403, 404, 429, 503)},
    )
    def delete(self, request, batch_id):
        batch = selectors.batch_get(owner=request.user, batch_id=batch_id)
        batches.batch_delete(batch=batch)
        return Response(status=status.HTTP_204_NO_CONTENT)


class BatchExportJsonApi(ApiView):
    name = "Batch results (JSON)"

    @extend_schema(
        operation_id="batches_export_json", summary="A batch's results as JSON, one object per analysis",
        responses={200: s.BatchExportSerializer, **error_responses(401, 404, 429)},
    )
    def get(self, request, batch_id):
        batch = selectors.batch_get(owner=request.user, batch_id=batch_id)
        body = {"id": str(batch.id), "name": batch.name, "created_at": batch.created_at.isoformat(),
                "analyses": batches.batch_export_rows(batch=batch)}
        return Response(body, headers={"Content-Disposition": f'attachment; filename="batch-{batch.id}.json"'})


class _FirstRenderer(DefaultContentNegotiation):
    """Files answer whatever the client accepts (an <img> asks for image/*)."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class AnalysisFileApi(ApiView):
    """A stored file: streamed to its owner from local disk, or a redirect to a presigned S3 URL
    (valid AWS_QUERYSTRING_EXPIRE seconds), as the pages serve it (detection.files)."""

    kind = ""
    content_negotiation_class = _FirstRenderer

    def get(self, request, analysis_id, index=None):
        analysis = selectors.analysis_get(owner=request.user, analysis_id=analysis_id)
        return files.serve_analysis_file(analysis, self.kind, index, range_header=request.headers.get("Range", ""))


def _file_schema(operation_id: str, summary: str, media_types: list[str]):
    return extend_schema(
        operation_id=operation_id, summary=summary,
        responses={
            **{(200, media_type): OpenApiResponse(OpenApiTypes.BINARY, description="The file.")
               for media_type in media_types},
            302: OpenApiResponse(description="On S3: a redirect to a short-lived presigned URL of the file."),
            **error_responses(401, 404, 429),
        },
    )


class AnalysisVideoApi(AnalysisFileApi):
    kind = "video"

    @_file_schema("analyses_video", "The uploaded video", [c.media_type for c in CONTAINERS.values()])
    def get(self, request, analysis_id):
        return super().get(request, analysis_id)


class AnalysisPosterApi(AnalysisFileApi):
    kind = "poster"

    @_file_schema("analyses_poster", "The most suspicious face (JPEG)", ["image/jpeg"])
    def get(self, request, analysis_id):
        return super().get(request, analysis_id)


class FrameThumbnailApi(AnalysisFileApi):
    kind = "thumbnail"

    @_file_schema("analyses_frame_thumbnail", "A frame's face crop (JPEG)", ["image/jpeg"])
    def get(self, request, analysis_id, index):
        return super().get(request, analysis_id, index)


class FrameHeatmapApi(AnalysisFileApi):
    kind = "heatmap"

    @_file_schema("analyses_frame_heatmap", "A frame's heat map (JPEG)", ["image/jpeg"])
    def get(self, request, analysis_id, index):
        return super().get(request, analysis_id, index)


class AnalysisReportPdfApi(ApiView):
    name = "Analysis report (PDF)"
    content_negotiation_class = _FirstRenderer

    @extend_schema(
        operation_id="analyses_report_pdf", summary="The report of a done analysis, as a printable A4 PDF",
        description="The verdict and its reading, the score per frame, the most suspicious faces with their heat "
                    "maps, the file's and the detector's fingerprints, timings and the limits of the method. "
                    "`409` until the analysis is done.",
        responses={(200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY, description="The PDF."),
                   **error_responses(401, 404, 409, 429, 503)},
    )
    def get(self, request, analysis_id):
        analysis = selectors.analysis_get(owner=request.user, analysis_id=analysis_id)
        return reports.report_pdf_response(analysis)


class AnalysisReportJsonApi(ApiView):
    name = "Analysis report (JSON)"

    @extend_schema(
        operation_id="analyses_report_json", summary="The report of a done analysis, as JSON (dfd-report/1)",
        description="The same facts as the PDF, in the versioned schema `dfd-report/1` (its `schema` field), "
                    "documented field by field in docs/report-schema.md. `409` until the analysis is done.",
        responses={200: OpenApiResponse(OpenApiTypes.OBJECT, description="The report."),
                   **error_responses(401, 404, 409, 429)},
    )
    def get(self, request, analysis_id):
        analysis = selectors.analysis_get(owner=request.user, analysis_id=analysis_id)
        return reports.report_json_response(analysis)


class BatchExportCsvApi(ApiView):
    name = "Batch results (CSV)"
    content_negotiation_class = _FirstRenderer

    @extend_schema(
        operation_id="batches_export_csv", summary="A batch's results as CSV, one row per analysis",
        description="Columns: " + ", ".join(f"`{column}`" for column in batches.EXPORT_COLUMNS) + ".",
        responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="The CSV file."),
                   **error_responses(401, 404, 429)},
    )
    def get(self, request, batch_id):
        batch = selectors.batch_get(owner=request.user, batch_id=batch_id)
        return HttpResponse(batches.batch_export_csv(batch=batch), content_type="text/csv; charset=utf-8",
                            headers={"Content-Disposition": f'attachment; filename="batch-{batch.id}.csv"'})


# --- Detectors and health ----------------------------------------------------------------------


class DetectorListApi(ApiView):
    name = "Detectors"

    @extend_schema(
        operation_id="detectors_list", summary="Installed detectors with their metrics",
        responses={200: s.DetectorSerializer(many=True), **error_responses(401, 429)},
    )
    def get(self, request):
        return Response(s.DetectorSerializer(selectors.detector_list(), many=True).data)


class HealthApi(ApiView):
    name = "Health"
    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = []  # for monitors polling often; it reveals nothing

    @extend_schema(
        operation_id="health", summary="Health of the database, storage, queue and detector",
        description="Public. 200 when every check passes, 503 when one fails. Says nothing secret.",
        auth=[], responses={200: s.HealthSerializer, 503: s.HealthSerializer},
    )
    def get(self, request):
        report = health_check()
        code = status.HTTP_200_OK if report["status"] == "ok" else status.HTTP_503_SERVICE_UNAVAILABLE
        return Response(s.HealthSerializer(report).data, status=code)
