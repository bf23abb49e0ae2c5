from django.contrib import admin
from django.urls import include, path

from detection import views as detection_views

urlpatterns = [
    path("", detection_views.home, name="home"),
    path("analyses/", include("detection.urls")),
    path("detectors/", detection_views.detector_list, name="detector_list"),
    path("detectors/<int:detector_id>/", detection_views.detector_detail, name="detector_detail"),
    path("accounts/", include("accounts.urls")),
    path("api/v1/", include("dfdsite.api_urls")),
    path("admin/", admin.site.urls),
]
