"""REST API v1 under one "api" namespace: each app's routes, the OpenAPI schema and its docs,
and a JSON 404 for anything else."""

from django.contrib.auth.decorators import login_not_required
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from . import api_views

app_name = "api"

urlpatterns = [
    path("", include("detection.api.urls")),
    path("", include("accounts.api_urls")),
    path("", include("sharing.api_urls")),
    path("", include("webhooks.api_urls")),
    # OpenAPI 3 schema, Swagger UI and Redoc (their assets come from drf-spectacular-sidecar's static files).
    path("schema/", login_not_required(SpectacularAPIView.as_view(throttle_classes=[])), name="schema"),
    # The split view serves its start-up script as a file: pages allow no inline script (CSP).
    path("docs/", login_not_required(
        SpectacularSwaggerSplitView.as_view(url_name="api:schema", throttle_classes=[])), name="docs"),
    path("redoc/", api_views.redoc, name="redoc"),
    re_path(r"^(?P<path>[\s\S]*)$", api_views.not_found),
]
