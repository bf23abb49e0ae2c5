"""REST API v1: thin views over detection.services / selectors (the token views are in accounts.api).

Every query is scoped to the requesting user: other people's analyses are 404.
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from dfdsite.api import ApiView, error_responses

from .. import files, reports, selectors, services
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
        operation_id="analyses_create", summary="Upload a video for analysis",
        description="Validates the video like the upload form (content, size, duration, pixels) and queues it. "
                    "Answers 202 with the analysis; poll `status_url` (also in `Location`) until `finished`.",
        request={"multipart/form-data": s.AnalysisCreateSerializer},
        responses={202: s.AnalysisCreatedSerializer, **error_responses(400, 401, 403, 413, 415, 429, 503)},
    )
    def post(self, request):
        form = s.AnalysisCreateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        analysis = services.analysis_create(
            owner=request.user, file=data["file"], frames=data["frames"], strategy=data["strategy"],
            detector=data.get("detector"),
        )
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
