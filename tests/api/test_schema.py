"""The OpenAPI 3 schema validates with no warnings; Swagger UI and Redoc load from our own static files."""

import re
import subprocess
import sys

import pytest
import yaml
from django.contrib.staticfiles import finders

from tests.services import REPO_ROOT, django_env

pytestmark = pytest.mark.django_db


def test_schema_validates_without_warnings(tmp_path):
    target = tmp_path / "schema.yaml"
    result = subprocess.run(
        [sys.executable, "manage.py", "spectacular", "--validate", "--fail-on-warn", "--file", str(target)],
        cwd=REPO_ROOT, env=django_env(DJANGO_DEBUG="1", DFD_VAR_DIR=str(tmp_path)), capture_output=True, text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Warning" not in result.stderr and "Error" not in result.stderr
    schema = yaml.safe_load(target.read_text())
    assert schema["openapi"].startswith("3.")
    assert set(schema["paths"]) == {
        "/api/v1/analyses/", "/api/v1/analyses/{analysis_id}/", "/api/v1/analyses/{analysis_id}/retry/",
        "/api/v1/analyses/{analysis_id}/video/", "/api/v1/analyses/{analysis_id}/poster/",
        "/api/v1/analyses/{analysis_id}/frames/{index}/thumbnail/",
        "/api/v1/analyses/{analysis_id}/frames/{index}/heatmap/", "/api/v1/detectors/", "/api/v1/health/",
        "/api/v1/auth/token/", "/api/v1/auth/tokens/", "/api/v1/auth/tokens/{token_id}/",
    }
    assert schema["components"]["securitySchemes"]["tokenAuth"] == {
        "type": "apiKey", "in": "header", "name": "Authorization",
        "description": schema["components"]["securitySchemes"]["tokenAuth"]["description"],
    }
    create = schema["paths"]["/api/v1/analyses/"]["post"]
    assert set(create["responses"]) >= {"202", "400", "401", "413", "429"}
    assert "multipart/form-data" in create["requestBody"]["content"]
    assert "security" not in schema["paths"]["/api/v1/health/"]["get"]  # public


def test_schema_is_served_to_anyone(client):
    response = client.get("/api/v1/schema/", headers={"Accept": "application/vnd.oai.openapi+json"})
    assert response.status_code == 200
    assert response.json()["info"]["title"] == "Deepfake Detector API"


@pytest.mark.parametrize("url, asset", [
    ("/api/v1/docs/", "swagger-ui-dist/swagger-ui-bundle.js"),
    ("/api/v1/redoc/", "redoc/bundles/redoc.standalone.js"),
])
def test_docs_use_local_assets_only(client, url, asset):
    response = client.get(url)
    assert response.status_code == 200
    page = response.content.decode()
    assert f"/static/drf_spectacular_sidecar/{asset}" in page
    external = [src for src in re.findall(r'(?:src|href)="([^"]+)"', page) if src.startswith(("http:", "https:", "//"))]
    assert external == [] and "cdn" not in page.lower()
    assert finders.find(f"drf_spectacular_sidecar/{asset}")  # collected with the other static files
    # No inline script (the Content-Security-Policy forbids it): the start-up script is a file of its own.
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", page) == []
    init = client.get(f"{url}?script")
    assert init.status_code == 200 and "javascript" in init["Content-Type"]
    assert "/api/v1/schema/" in init.content.decode()
