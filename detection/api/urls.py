"""The REST API's analysis, detector and health routes; dfdsite.api_urls includes them under
the "api" namespace."""

from django.urls import path

from dfdsite.middleware import large_body

from .. import batches, services
from . import views

# The one API route that takes a video; every other one refuses a body over a few hundred KB.
upload_body = large_body(services.upload_body_limit, services.upload_too_large)
# A batch takes several videos, each up to the upload limit.
batch_body = large_body(batches.batch_body_limit, batches.batch_too_large)

urlpatterns = [
    path("analyses/", upload_body(views.AnalysisListCreateApi.as_view()), name="analysis-list"),
    path("analyses/<uuid:analysis_id>/", views.AnalysisDetailApi.as_view(), name="analysis-detail"),
    path("analyses/<uuid:analysis_id>/retry/", views.AnalysisRetryApi.as_view(), name="analysis-retry"),
    path("analyses/<uuid:analysis_id>/cancel/", views.AnalysisCancelApi.as_view(), name="analysis-cancel"),
    path("analyses/<uuid:analysis_id>/video/", views.AnalysisVideoApi.as_view(), name="analysis-video"),
    path("analyses/<uuid:analysis_id>/poster/", views.AnalysisPosterApi.as_view(), name="analysis-poster"),
    path("analyses/<uuid:analysis_id>/frames/<int:index>/thumbnail/", views.FrameThumbnailApi.as_view(),
         name="frame-thumbnail"),
    path("analyses/<uuid:analysis_id>/frames/<int:index>/heatmap/", views.FrameHeatmapApi.as_view(),
         name="frame-heatmap"),
    path("analyses/<uuid:analysis_id>/report.pdf", views.AnalysisReportPdfApi.as_view(), name="analysis-report-pdf"),
    path("analyses/<uuid:analysis_id>/report.json", views.AnalysisReportJsonApi.as_view(),
         name="analysis-report-json"),
    path("batches/", batch_body(views.BatchListCreateApi.as_view()), name="batch-list"),
    path("batches/<uuid:batch_id>/", views.BatchDetailApi.as_view(), name="batch-detail"),
    path("batches/<uuid:batch_id>/export.csv", views.BatchExportCsvApi.as_view(), name="batch-export-csv"),
    path("batches/<uuid:batch_id>/export.json", views.BatchExportJsonApi.as_view(), name="batch-export-json"),
    path("detectors/", views.DetectorListApi.as_view(), name="detector-list"),
    path("health/", views.HealthApi.as_view(), name="health"),
]
