"""The REST API's token and account routes; dfdsite.api_urls includes them under the "api" namespace."""

from django.urls import path

from . import api

urlpatterns = [
    path("auth/token/", api.TokenObtainApi.as_view(), name="token-obtain"),
    path("auth/tokens/", api.TokenListApi.as_view(), name="token-list"),
    path("auth/tokens/<int:token_id>/", api.TokenDetailApi.as_view(), name="token-detail"),
    path("account/export/", api.AccountExportApi.as_view(), name="account-export"),
]
