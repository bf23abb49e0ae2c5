"""The REST API's own pages, beside its urlconf (dfdsite.api_urls): the Redoc docs, and the
JSON 404 for anything else under /api/v1/."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.contrib.staticfiles import finders
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions
from rest_framework.decorators import api_view, authentication_classes, permission_classes, throttle_classes
from rest_framework.permissions import AllowAny

# Search runs in a blob: web worker, which the site's Content-Security-Policy does not allow.
REDOC_SETTINGS = {"disableSearch": True, "expandResponses": "200,201,202", "hideDownloadButton": False}


REDOC_BUNDLE = "drf_spectacular_sidecar/redoc/bundles/redoc.standalone.js"
REDOC_CDN_LOGO = b'"https://cdn.redoc.ly/redoc/logo-mini.svg"'


@lru_cache(maxsize=1)
def _redoc_bundle() -> bytes:
    """Redoc's bundle, less the CDN address of its "API docs by Redocly" logo: the policy blocked
    it, which logged a violation on every visit. An image that does not load makes Redoc leave the
    logo out."""
    return Path(finders.find(REDOC_BUNDLE)).read_bytes().replace(REDOC_CDN_LOGO, b'"data:,"')


@login_not_required
@require_GET
def redoc(request):
    """Redoc from drf-spectacular-sidecar's static files, started by a script file rather than
    inline (the pages' Content-Security-Policy forbids inline scripts), and without web fonts.
    `?script` answers the start-up script, `?bundle` Redoc itself (see _redoc_bundle)."""
    if "bundle" in request.GET:
        response = HttpResponse(_redoc_bundle(), content_type="application/javascript; charset=utf-8")
        response["Cache-Control"] = "public, max-age=86400"
        return response
    if "script" in request.GET:
        schema_url, options = json.dumps(reverse("api:schema")), json.dumps(REDOC_SETTINGS)
        script = f"Redoc.init({schema_url}, {options}, document.getElementById('redoc-container'));"
        return HttpResponse(script, content_type="application/javascript; charset=utf-8")
    return render(request, "api/redoc.html", {
        "title": settings.SPECTACULAR_SETTINGS["TITLE"], "init_js": f"{request.path}?script",
        "bundle_js": f"{request.path}?bundle",
    })


@extend_schema(exclude=True)
@login_not_required
@api_view(["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
@authentication_classes([])
@permission_classes([AllowAny])
@throttle_classes([])
def not_found(request, path=""):
    """Anything else under /api/v1/: a 404 in the API's error shape, never the login page."""
    raise exceptions.NotFound()
