"""The REST API's share-link routes; dfdsite.api_urls includes them under the "api" namespace."""

from django.urls import path

from . import api

urlpatterns = [
    path("analyses/<uuid:analysis_id>/share-links/", api.ShareLinkListCreateApi.as_view(), name="share-link-list"),
    path("analyses/<uuid:analysis_id>/share-links/<int:link_id>/", api.ShareLinkDetailApi.as_view(),
         name="share-link-detail"),
]
