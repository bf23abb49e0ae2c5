"""The OpenAPI 3 schema validates with no warnings; Swagger UI and Redoc load from our own static files."""

import re
import subprocess
import sys

import pytest
import yaml
from django.contrib.staticfiles import finders
from django.urls import URLPattern, URLResolver, get_resolver

from tests.processes import REPO_ROOT, django_env

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
    create = schema["paths"]["/api/v1/analyses/"]["post"]
    assert set(create["responses"]) >= {"202", "400", "401", "413", "429"}
    assert "multipart/form-data" in create["requestBody"]["content"]


# --- The live schema against the live urlconf and views -----------------------------------------

DOCS_ROUTES = {"schema", "docs", "redoc"}  # the schema and its viewers, not part of the API
PUBLIC_OPERATIONS = {"health", "auth_token_create"}


@pytest.fixture
def schema(client):
    response = client.get("/api/v1/schema/", headers={"Accept": "application/vnd.oai.openapi+json"})
    assert response.status_code == 200
    return response.json()


def operations(schema):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method in {"get", "post", "put", "patch", "delete"}:
                yield path, method, operation


def api_routes() -> set[str]:
    """Every named route under /api/v1/ in the urlconf, written the way OpenAPI writes paths."""
    def walk(patterns, prefix):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern) and pattern.name:
                yield prefix + str(pattern.pattern), pattern.name

    return {
        re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route)
        for route, name in walk(get_resolver().url_patterns, "/")
        if route.startswith("/api/v1/") and name not in DOCS_ROUTES
    }


def test_every_api_route_is_in_the_schema_and_nothing_else(schema):
    routes = api_routes()
    assert {"/api/v1/analyses/", "/api/v1/auth/token/", "/api/v1/auth/tokens/{token_id}/",
            "/api/v1/health/"} <= routes  # the walk found both apps' routes
    assert set(schema["paths"]) == routes


def test_error_responses_use_the_error_shape(schema):
    error = schema["components"]["schemas"]["Error"]
    assert error["properties"]["error"]["$ref"] == "#/components/schemas/ErrorDetail"
    detail = schema["components"]["schemas"]["ErrorDetail"]
    assert set(detail["required"]) == set(detail["properties"]) == {"status", "code", "message", "fields"}
    checked = 0
    for path, method, operation in operations(schema):
        for status, response in operation["responses"].items():
            if int(status) < 400 or operation["operationId"] == "health":  # health's 503 is its report
                continue
            assert response["description"], (path, method, status)
            content = response["content"]["application/json"]
            assert content["schema"] == {"$ref": "#/components/schemas/Error"}, (path, method, status)
            checked += 1
    assert checked > 30


def test_every_operation_documents_its_authentication_and_rate_limit(schema):
    token_auth = schema["components"]["securitySchemes"]["tokenAuth"]
    assert (token_auth["type"], token_auth["in"], token_auth["name"]) == ("apiKey", "header", "Authorization")
    assert token_auth["description"].startswith("`Token <token>`")
    assert "/api/v1/auth/token/" in token_auth["description"]
    seen = set()
    for path, method, operation in operations(schema):
        seen.add(operation["operationId"])
        if operation["operationId"] in PUBLIC_OPERATIONS:
            assert "security" not in operation, (path, method)
            continue
        assert {"tokenAuth": []} in operation["security"], (path, method)
        assert {"401", "429"} <= set(operation["responses"]), (path, method)
    assert PUBLIC_OPERATIONS <= seen
    assert set(schema["paths"]["/api/v1/auth/token/"]["post"]["responses"]) >= {"201", "400", "401", "429"}


def test_schema_is_served_to_anyone(client):
    response = client.get("/api/v1/schema/", headers={"Accept": "application/vnd.oai.openapi+json"})
    assert response.status_code == 200
    assert response.json()["info"]["title"] == "Deepfake Detector API"


@pytest.mark.parametrize("url, asset, served_at", [
    ("/api/v1/docs/", "swagger-ui-dist/swagger-ui-bundle.js",
     "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js"),
    # Redoc's bundle comes through its view, less the CDN address of a logo (dfdsite.api_views).
    ("/api/v1/redoc/", "redoc/bundles/redoc.standalone.js", "/api/v1/redoc/?bundle"),
])
def test_docs_use_local_assets_only(client, url, asset, served_at):
    response = client.get(url)
    assert response.status_code == 200
    page = response.content.decode()
    assert f'src="{served_at}"' in page
    external = [src for src in re.findall(r'(?:src|href)="([^"]+)"', page) if src.startswith(("http:", "https:", "//"))]
    assert external == [] and "cdn" not in page.lower()
    assert finders.find(f"drf_spectacular_sidecar/{asset}")  # collected with the other static files
    # No inline script (the Content-Security-Policy forbids it): the start-up script is a file of its own.
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", page) == []
    init = client.get(f"{url}?script")
    assert init.status_code == 200 and "javascript" in init["Content-Type"]
    assert "/api/v1/schema/" in init.content.decode()


def test_redoc_bundle_names_no_cdn(client):
    bundle = client.get("/api/v1/redoc/?bundle")
    assert bundle.status_code == 200 and "javascript" in bundle["Content-Type"]
    assert b"Redoc" in bundle.content and b"cdn.redoc.ly" not in bundle.content
