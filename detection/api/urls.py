from django.contrib.auth.decorators import login_not_required
from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from . import views

app_name = "api"

urlpatterns = [
    path("analyses/", views.AnalysisListCreateApi.as_view(), name="analysis-list"),
    path("analyses/<uuid:analysis_id>/", views.AnalysisDetailApi.as_view(), name="analysis-detail"),
    path("analyses/<uuid:analysis_id>/retry/", views.AnalysisRetryApi.as_view(), name="analysis-retry"),
    path("analyses/<uuid:analysis_id>/video/", views.AnalysisVideoApi.as_view(), name="analysis-video"),
    path("analyses/<uuid:analysis_id>/poster/", views.AnalysisPosterApi.as_view(), name="analysis-poster"),
    path("analyses/<uuid:analysis_id>/frames/<int:index>/thumbnail/", views.FrameThumbnailApi.as_view(),
         name="frame-thumbnail"),
    path("analyses/<uuid:analysis_id>/frames/<int:index>/heatmap/", views.FrameHeatmapApi.as_view(),
         name="frame-heatmap"),
    path("detectors/", views.DetectorListApi.as_view(), name="detector-list"),
    path("health/", views.HealthApi.as_view(), name="health"),
    path("auth/token/", views.TokenObtainApi.as_view(), name="token-obtain"),
    path("auth/tokens/", views.TokenListApi.as_view(), name="token-list"),
    path("auth/tokens/<int:token_id>/", views.TokenDetailApi.as_view(), name="token-detail"),
    # OpenAPI 3 schema, Swagger UI and Redoc (their assets come from drf-spectacular-sidecar's static files).
    path("schema/", login_not_required(SpectacularAPIView.as_view(throttle_classes=[])), name="schema"),
    # The split view serves its start-up script as a file: pages allow no inline script (CSP).
    path("docs/", login_not_required(SpectacularSwaggerSplitView.as_view(url_name="api:schema", throttle_classes=[])),
         name="docs"),
    path("redoc/", views.redoc, name="redoc"),
    re_path(r"^(?P<path>[\s\S]*)$", views.not_found),
]
