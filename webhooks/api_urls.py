"""The REST API's webhook routes; dfdsite.api_urls includes them under the "api" namespace."""

from django.urls import path

from . import api

urlpatterns = [
    path("webhooks/", api.EndpointListApi.as_view(), name="webhook-list"),
    path("webhooks/<int:endpoint_id>/", api.EndpointDetailApi.as_view(), name="webhook-detail"),
    path("webhooks/<int:endpoint_id>/rotate-secret/", api.EndpointRotateSecretApi.as_view(),
         name="webhook-rotate-secret"),
    path("webhooks/<int:endpoint_id>/test/", api.EndpointTestApi.as_view(), name="webhook-test"),
    path("webhooks/<int:endpoint_id>/deliveries/", api.DeliveryListApi.as_view(), name="webhook-deliveries"),
]
