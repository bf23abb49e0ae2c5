"""REST API for API tokens (create one with a username and password, list yours, revoke one)
and for downloading all of one's data.

Thin views over accounts.services and accounts.selectors; their domain errors reach the client
through dfdsite.api's exception handler, in the one error shape. Routed in dfdsite.api_urls.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import authenticate
from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from dfdsite.api import ApiView, error_responses

from . import selectors, services
from .authentication import KEYWORD
from .models import ApiToken

WRONG_CREDENTIALS = ("Please enter a correct username and password. "
                     "Note that both fields may be case-sensitive.")


# --- Shapes ------------------------------------------------------------------------------------


class TokenObtainSerializer(serializers.Serializer):
    username = serializers.CharField(trim_whitespace=False)
    password = serializers.CharField(style={"input_type": "password"}, trim_whitespace=False)
    name = serializers.CharField(required=False, default="API token", max_length=ApiToken.NAME_MAX_LENGTH,
                                 help_text="What the token is for, e.g. the script or machine using it.")
    expires_in_days = serializers.IntegerField(
        required=False, default=services.DEFAULT_EXPIRY_DAYS, min_value=0, max_value=services.MAX_EXPIRY_DAYS,
        help_text="Days until the token stops working; 0: never.",
    )


class TokenSerializer(serializers.ModelSerializer):
    expired = serializers.BooleanField(source="is_expired", read_only=True)

    class Meta:
        model = ApiToken
        fields = ["id", "name", "prefix", "created_at", "expires_at", "last_used_at", "expired"]
        read_only_fields = fields
        extra_kwargs = {"prefix": {"help_text": "The token's first characters, to tell tokens apart."},
                        "last_used_at": {"help_text": "Updated at most once a minute."}}


class TokenCreatedSerializer(TokenSerializer):
    token = serializers.CharField(read_only=True, help_text="The token: shown only this once.")

    class Meta(TokenSerializer.Meta):
        fields = ["token", *TokenSerializer.Meta.fields]
        read_only_fields = fields


# --- Views -------------------------------------------------------------------------------------


class TokenObtainApi(ApiView):
    name = "Create a token"
    authentication_classes = []  # a token or session sent along is ignored: the password decides
    permission_classes = [AllowAny]

    def get_authenticate_header(self, request):
        return KEYWORD  # wrong credentials are a 401 with WWW-Authenticate, like a bad token

    @extend_schema(
        operation_id="auth_token_create", summary="Create a token with your username and password",
        description="The token is in `token`, shown only this once; "
                    f"send it as `Authorization: {KEYWORD} <token>`.",
        auth=[], request=TokenObtainSerializer,
        responses={201: TokenCreatedSerializer, **error_responses(400, 401, 415, 429)},
    )
    def post(self, request):
        form = TokenObtainSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        ip = request.META.get("REMOTE_ADDR", "")
        if services.signin_blocked(username=data["username"], ip=ip):
            raise exceptions.Throttled(detail=services.signin_blocked_message(),
                                       wait=settings.DFD_SIGNIN_LOCKOUT_SECONDS)
        user = authenticate(request._request, username=data["username"], password=data["password"])
        if user is None:
            services.signin_failed(username=data["username"], ip=ip)
            raise exceptions.AuthenticationFailed(WRONG_CREDENTIALS, code="invalid_credentials")
        token, raw = services.token_create(user=user, name=data["name"],
                                           expires_in_days=data["expires_in_days"] or None)
        services.signin_succeeded(username=data["username"], ip=ip)
        token.token = raw
        return Response(TokenCreatedSerializer(token).data, status=status.HTTP_201_CREATED)


class TokenListApi(ApiView):
    name = "API tokens"

    @extend_schema(
        operation_id="auth_tokens_list", summary="Your API tokens (never the tokens themselves)",
        responses={200: TokenSerializer(many=True), **error_responses(401, 429)},
    )
    def get(self, request):
        return Response(TokenSerializer(selectors.token_list(user=request.user), many=True).data)


class TokenDetailApi(ApiView):
    name = "API token"

    @extend_schema(
        operation_id="auth_tokens_destroy", summary="Revoke a token: it stops working at once",
        responses={204: OpenApiResponse(description="Revoked."), **error_responses(401, 403, 404, 429)},
    )
    def delete(self, request, token_id):
        token = selectors.token_get(user=request.user, token_id=token_id)
        services.token_revoke(token=token)
        return Response(status=status.HTTP_204_NO_CONTENT)


class _AnyAccept(DefaultContentNegotiation):
    """The export is a zip whatever the client says it accepts."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class AccountExportApi(ApiView):
    name = "Export your data"
    content_negotiation_class = _AnyAccept

    @extend_schema(
        operation_id="account_export", summary="All your analyses and their files, as one zip",
        description="`index.json` lists every analysis; each has `analyses/<id>/analysis.json` (as "
                    "`GET analyses/{id}/` gives it) and, once done, `report.json` (its report's facts) beside its "
                    "video, faces and heat maps. Built while you wait.",
        responses={(200, "application/zip"): OpenApiResponse(OpenApiTypes.BINARY, description="The archive."),
                   **error_responses(401, 429, 503)},
    )
    def get(self, request):
        archive, size = services.account_export(user=request.user)
        response = FileResponse(archive, as_attachment=True, filename=services.export_file_name(user=request.user),
                                content_type="application/zip")
        response["Content-Length"] = str(size)
        return response
