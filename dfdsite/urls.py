from django.contrib import admin
from django.contrib.auth.decorators import login_not_required
from django.shortcuts import redirect
from django.templatetags.static import static
from django.urls import include, path
from django.views.decorators.http import require_GET

from detection import views as detection_views


@login_not_required
@require_GET
def favicon(request):
    """Browsers ask for /favicon.ico on pages that name no icon (the API's JSON, Redoc's)."""
    return redirect(static("favicon.ico"))


urlpatterns = [
    path("", detection_views.home, name="home"),
    path("analyses/", include("detection.urls")),
    path("", include("sharing.urls")),
    path("detectors/", detection_views.detector_list, name="detector_list"),
    path("detectors/<int:detector_id>/", detection_views.detector_detail, name="detector_detail"),
    path("accounts/", include("accounts.urls")),
    path("accounts/webhooks/", include("webhooks.urls")),
    path("api/v1/", include("dfdsite.api_urls")),
    path("admin/", admin.site.urls),
    path("favicon.ico", favicon, name="favicon"),
]

handler400 = "dfdsite.views.bad_request"
