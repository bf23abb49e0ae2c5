"""Rate limits from settings (DFD_API_THROTTLE_*), read when each request is checked.

DRF's throttles copy the rates into a class attribute at import; these read
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] each time, so changed settings apply at once.
"""

from rest_framework.settings import api_settings
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle


class _RatesFromSettings:
    def get_rate(self):
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)


class UserThrottle(_RatesFromSettings, UserRateThrottle):
    scope = "user"


class AnonThrottle(_RatesFromSettings, AnonRateThrottle):
    scope = "anon"


class UploadThrottle(_RatesFromSettings, UserRateThrottle):
    """Uploads per user (or per address for anonymous requests, which are refused anyway)."""

    scope = "uploads"
