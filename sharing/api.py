"""REST API for share links: make one for an analysis (its address shown once), list them,
revoke one. Thin views over sharing.services and selectors; routed in dfdsite.api_urls."""

from __future__ import annotations

from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.response import Response

from detection import selectors as detection_selectors
from dfdsite.api import ApiView, error_responses

from . import selectors, services
from .models import ShareLink

# --- Shapes ------------------------------------------------------------------------------------


class ShareLinkCreateSerializer(serializers.Serializer):
    expires_in_days = serializers.IntegerField(
        required=False, default=services.DEFAULT_EXPIRY_DAYS, min_value=1, max_value=services.MAX_EXPIRY_DAYS,
        help_text=f"Days until the link stops working (1 to {services.MAX_EXPIRY_DAYS}).",
    )
    include_video = serializers.BooleanField(required=False, default=False,
                                             help_text="Whether the shared page plays the video too.")
    note = serializers.CharField(required=False, default="", allow_blank=True, max_length=ShareLink.NOTE_MAX_LENGTH,
                                 help_text="Whom the link is for; only you see it.")


class ShareLinkSerializer(serializers.ModelSerializer):
    live = serializers.BooleanField(source="is_live", read_only=True,
                                    help_text="True until the link expires or is revoked.")

    class Meta:
        model = ShareLink
        fields = ["id", "note", "include_video", "created_at", "expires_at", "revoked_at", "live"]
        read_only_fields = fields


class ShareLinkCreatedSerializer(ShareLinkSerializer):
    url = serializers.SerializerMethodField(help_text="The link to hand on: shown only this once.")

    class Meta(ShareLinkSerializer.Meta):
        fields = ["url", *ShareLinkSerializer.Meta.fields]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, link) -> str:
        return self.context["request"].build_absolute_uri(reverse("sharing:shared", args=[self.context["token"]]))


# --- Views -------------------------------------------------------------------------------------


class ShareLinkListCreateApi(ApiView):
    name = "Share links"

    @extend_schema(
        operation_id="analyses_share_links_list", summary="The analysis's share links (never the links themselves)",
        responses={200: ShareLinkSerializer(many=True), **error_responses(401, 404, 429)},
    )
    def get(self, request, analysis_id):
        analysis = detection_selectors.analysis_get(owner=request.user, analysis_id=analysis_id)
        return Response(ShareLinkSerializer(selectors.share_link_list(analysis=analysis), many=True).data)

    @extend_schema(
        operation_id="analyses_share_links_create", summary="A read-only link to a done analysis's result",
        description="Anyone with the link sees the result without an account until it expires or is revoked. "
                    "The link is in `url`, shown only this once. `409` until the analysis is done.",
        request=ShareLinkCreateSerializer,
        responses={201: ShareLinkCreatedSerializer, **error_responses(400, 401, 403, 404, 409, 415, 429)},
    )
    def post(self, request, analysis_id):
        analysis = detection_selectors.analysis_get(owner=request.user, analysis_id=analysis_id)
        form = ShareLinkCreateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        link, token = services.share_link_create(analysis=analysis, **form.validated_data)
        body = ShareLinkCreatedSerializer(link, context={"request": request, "token": token}).data
        return Response(body, status=status.HTTP_201_CREATED)


class ShareLinkDetailApi(ApiView):
    name = "Share link"

    @extend_schema(
        operation_id="analyses_share_links_destroy", summary="Revoke a share link: it stops working at once",
        responses={204: OpenApiResponse(description="Revoked."), **error_responses(401, 403, 404, 429)},
    )
    def delete(self, request, analysis_id, link_id):
        analysis = detection_selectors.analysis_get(owner=request.user, analysis_id=analysis_id)
        services.share_link_revoke(link=selectors.share_link_get(analysis=analysis, link_id=link_id))
        return Response(status=status.HTTP_204_NO_CONTENT)
