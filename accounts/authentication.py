"""`Authorization: Token <token>`: personal API tokens (see accounts.services), stored hashed."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from . import services

KEYWORD = "Token"


class ApiTokenAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        parts = authentication.get_authorization_header(request).split()
        if not parts or parts[0].lower() != KEYWORD.lower().encode():
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(f"Invalid Authorization header: use `{KEYWORD} <token>`.")
        try:
            raw = parts[1].decode("ascii")
        except UnicodeError:
            raise exceptions.AuthenticationFailed("Invalid token.") from None
        try:
            token = services.token_authenticate(raw=raw)
        except services.InvalidToken as error:
            raise exceptions.AuthenticationFailed(str(error)) from None
        return token.user, token

    def authenticate_header(self, request) -> str:
        # Makes DRF answer 401 (with WWW-Authenticate), not 403, to unauthenticated requests.
        return KEYWORD


class ApiTokenScheme(OpenApiAuthenticationExtension):
    target_class = ApiTokenAuthentication
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey", "in": "header", "name": "Authorization",
            "description": f"`{KEYWORD} <token>`: create one with `POST /api/v1/auth/token/` or on your "
                           "account's API tokens page.",
        }
