"""The site's urlconf plus two views that fail on purpose, for the error-page tests."""

from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied
from django.urls import path

from dfdsite.urls import urlpatterns as site_urlpatterns


@login_not_required
def server_error(request):
    raise RuntimeError("a bug, on purpose")


@login_not_required
def forbidden(request):
    raise PermissionDenied


urlpatterns = [path("test-errors/500/", server_error), path("test-errors/403/", forbidden), *site_urlpatterns]
