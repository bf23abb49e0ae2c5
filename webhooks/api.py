"""REST API for webhooks: endpoints (list, create, read, change, delete, rotate the secret,
send a test event) and their delivery logs. Thin views over webhooks.services and
webhooks.selectors; routed in dfdsite.api_urls under the "api" namespace."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import JSONParser
from rest_framework.response import Response

from dfdsite.api import ApiView, error_responses

from . import selectors, services
from .models import WebhookAttempt, WebhookDelivery, WebhookEndpoint

# --- Shapes ------------------------------------------------------------------------------------


class OptionalBooleanField(serializers.BooleanField):
    """Absent means absent, form-encoded too (DRF reads a missing form field as an unticked box: False)."""

    default_empty_html = serializers.empty


# `url` allows blank here so that a blank one reaches the service and is refused there, with the
# service's message.


class EndpointInputSerializer(serializers.Serializer):
    url = serializers.CharField(max_length=WebhookEndpoint.URL_MAX_LENGTH, allow_blank=True,
                                help_text="A public http(s) address that accepts POST requests; redirects are "
                                          "not followed.")
    description = serializers.CharField(max_length=WebhookEndpoint.DESCRIPTION_MAX_LENGTH, required=False,
                                        allow_blank=True, default="")
    is_active = OptionalBooleanField(required=False, default=True, help_text="Paused endpoints are sent nothing.")


class EndpointUpdateSerializer(serializers.Serializer):
    url = serializers.CharField(max_length=WebhookEndpoint.URL_MAX_LENGTH, required=False, allow_blank=True)
    description = serializers.CharField(max_length=WebhookEndpoint.DESCRIPTION_MAX_LENGTH, required=False,
                                        allow_blank=True)
    is_active = OptionalBooleanField(required=False)


class EndpointSerializer(serializers.ModelSerializer):
    secret_hint = serializers.CharField(read_only=True, help_text="The secret's first characters, to tell which "
                                                                  "one a receiver holds.")

    class Meta:
        model = WebhookEndpoint
        fields = ["id", "url", "description", "is_active", "secret_hint", "secret_created_at", "created_at"]
        read_only_fields = fields


class EndpointWithSecretSerializer(EndpointSerializer):
    secret = serializers.CharField(read_only=True, help_text="The signing secret: shown only this once.")

    class Meta(EndpointSerializer.Meta):
        fields = ["secret", *EndpointSerializer.Meta.fields]
        read_only_fields = fields


class AttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookAttempt
        fields = ["number", "started_at", "duration_ms", "status_code", "error", "succeeded", "next_retry_at"]
        read_only_fields = fields
        extra_kwargs = {"status_code": {"help_text": "The receiver's answer; null when none came."},
                        "error": {"help_text": "Why the attempt failed; empty when it succeeded."},
                        "next_retry_at": {"help_text": "When the next attempt is due; null when none follows."}}


class DeliverySerializer(serializers.ModelSerializer):
    attempt_log = AttemptSerializer(many=True, read_only=True)

    class Meta:
        model = WebhookDelivery
        fields = ["id", "event", "analysis_id", "status", "attempts", "last_status_code", "next_retry_at",
                  "created_at", "attempt_log"]
        read_only_fields = fields
        extra_kwargs = {"id": {"help_text": "The delivery id, sent as X-DFD-Delivery and as the body's `id`."}}


# --- Views -------------------------------------------------------------------------------------


class EndpointListApi(ApiView):
    name = "Webhook endpoints"

    @extend_schema(operation_id="webhooks_list", summary="Your webhook endpoints (never their secrets)",
                   responses={200: EndpointSerializer(many=True), **error_responses(401, 429)})
    def get(self, request):
        return Response(EndpointSerializer(selectors.endpoint_list(owner=request.user), many=True).data)

    @extend_schema(
        operation_id="webhooks_create", summary="Add a webhook endpoint",
        description="The answer holds the signing `secret`, shown only this once. The address must resolve to "
                    "public addresses only.",
        request=EndpointInputSerializer,
        responses={201: EndpointWithSecretSerializer, **error_responses(400, 401, 403, 415, 429)},
    )
    def post(self, request):
        form = EndpointInputSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        endpoint = services.endpoint_create(owner=request.user, **form.validated_data)
        return Response(EndpointWithSecretSerializer(endpoint).data, status=status.HTTP_201_CREATED)


class EndpointDetailApi(ApiView):
    name = "Webhook endpoint"
    # JSON only: a form body that is not a set of fields (garbage) would parse as no change at all.
    parser_classes = [JSONParser]

    @extend_schema(operation_id="webhooks_retrieve", summary="A webhook endpoint",
                   responses={200: EndpointSerializer, **error_responses(401, 404, 429)})
    def get(self, request, endpoint_id):
        return Response(EndpointSerializer(selectors.endpoint_get(owner=request.user, endpoint_id=endpoint_id)).data)

    @extend_schema(operation_id="webhooks_partial_update", summary="Change an endpoint's URL, description or state",
                   request=EndpointUpdateSerializer,
                   responses={200: EndpointSerializer, **error_responses(400, 401, 403, 404, 415, 429)})
    def patch(self, request, endpoint_id):
        endpoint = selectors.endpoint_get(owner=request.user, endpoint_id=endpoint_id)
        form = EndpointUpdateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        endpoint = services.endpoint_update(endpoint=endpoint, **form.validated_data)
        return Response(EndpointSerializer(endpoint).data)

    @extend_schema(operation_id="webhooks_destroy", summary="Delete an endpoint and its delivery log",
                   responses={204: OpenApiResponse(description="Deleted."), **error_responses(401, 403, 404, 429)})
    def delete(self, request, endpoint_id):
        services.endpoint_delete(endpoint=selectors.endpoint_get(owner=request.user, endpoint_id=endpoint_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class EndpointRotateSecretApi(ApiView):
    name = "Rotate a webhook secret"

    @extend_schema(operation_id="webhooks_rotate_secret", summary="Replace the endpoint's signing secret",
                   description="The new `secret` is shown only this once; the old one stops signing at once.",
                   request=None, responses={200: EndpointWithSecretSerializer, **error_responses(401, 403, 404, 429)})
    def post(self, request, endpoint_id):
        endpoint = selectors.endpoint_get(owner=request.user, endpoint_id=endpoint_id)
        return Response(EndpointWithSecretSerializer(services.endpoint_rotate_secret(endpoint=endpoint)).data)


class EndpointTestApi(ApiView):
    name = "Send a test event"

    @extend_schema(operation_id="webhooks_test", summary="Queue a test event for the endpoint",
                   description="Sent like any event (signed, retried); its attempts appear in the deliveries.",
                   request=None, responses={202: DeliverySerializer, **error_responses(401, 403, 404, 429)})
    def post(self, request, endpoint_id):
        endpoint = selectors.endpoint_get(owner=request.user, endpoint_id=endpoint_id)
        delivery = services.endpoint_send_test(endpoint=endpoint)
        return Response(DeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)


class DeliveryListApi(ApiView):
    name = "Webhook deliveries"

    @extend_schema(operation_id="webhooks_deliveries",
                   summary=f"The endpoint's latest {selectors.DELIVERIES_SHOWN} deliveries, with every attempt",
                   responses={200: DeliverySerializer(many=True), **error_responses(401, 404, 429)})
    def get(self, request, endpoint_id):
        endpoint = selectors.endpoint_get(owner=request.user, endpoint_id=endpoint_id)
        return Response(DeliverySerializer(selectors.delivery_list(endpoint=endpoint), many=True).data)
