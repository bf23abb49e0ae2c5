"""Settings for the deepfake detection platform.

One module, driven by environment variables (every one is listed in the README).
With no variables at all but DJANGO_DEBUG=1 it runs embedded: SQLite in var/, uploads
under media/, Celery on a filesystem queue in var/queue/. Production switches each
component by its own variable.
"""

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from dfdsite.storage import default_storage_settings

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("DFD_VAR_DIR", BASE_DIR / "var"))


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off"):
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), got {value!r}")


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {value!r}") from None


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DJANGO_DEBUG", False)

SECRET_KEY = env_str("DJANGO_SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY is not set. In production (DJANGO_DEBUG off) set it to a long random "
            "value, for example the output of: "
            "python -c 'import secrets; print(secrets.token_urlsafe(50))'. "
            "For a local run on this machine use DJANGO_DEBUG=1 (what `make run` does)."
        )
    # Only ever used with DEBUG on, which binds to loopback hosts below.
    SECRET_KEY = "insecure-local-development-key-never-use-in-production-0123456789"

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "accounts",
    "detection",
    "sharing",
    "webhooks",
]

MIDDLEWARE = [
    "dfdsite.middleware.ClientAddressMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "dfdsite.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    # Ahead of CSRF, which reads a POST body to find its token.
    "dfdsite.middleware.BodyLimitMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "dfdsite.middleware.DomainErrorMiddleware",
]

ROOT_URLCONF = "dfdsite.urls"
WSGI_APPLICATION = "dfdsite.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "dfdsite.context_processors.site",
            ],
        },
    },
]

# --- Database: SQLite (WAL) in var/ unless DATABASE_URL says otherwise -----------------
DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)}
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": VAR_DIR / "db.sqlite3"}}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        # WAL lets the web server read while the worker writes; IMMEDIATE avoids
        # "database is locked" on read-then-write transactions under concurrency.
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "accounts:login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("DJANGO_TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# --- Static files (our own CSS/JS, no CDN) and uploads -----------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("DJANGO_STATIC_ROOT", str(VAR_DIR / "staticfiles")))
if DEBUG:
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise serves from finders, but wants it to exist
MEDIA_ROOT = Path(env_str("DJANGO_MEDIA_ROOT", str(BASE_DIR / "media")))
# Uploads are never served as public files: later views stream them to their owner only.
MEDIA_URL = "/media-not-public/"

STORAGE_BACKEND = env_str("STORAGE_BACKEND", "local")
STORAGES = {
    "default": default_storage_settings(os.environ, MEDIA_ROOT),
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# --- Celery: filesystem queue in var/ unless CELERY_BROKER_URL says otherwise ------------
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    QUEUE_DIR = VAR_DIR / "queue"
    for folder in ("messages", "processed", "control"):
        (QUEUE_DIR / folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(QUEUE_DIR / "messages"),
        "data_folder_out": str(QUEUE_DIR / "messages"),
        "processed_folder": str(QUEUE_DIR / "processed"),
        "control_folder": str(QUEUE_DIR / "control"),
        "store_processed": False,
    }
else:
    # Redis: a task not acknowledged within this time is delivered again; longer than
    # the longest analysis so a slow one is not run twice.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600)}
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND") or None
CELERY_TASK_ALWAYS_EAGER = False
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_DEFAULT_QUEUE", "default")
# Analyses can go to a queue of their own, served by GPU workers on other machines.
CELERY_TASK_ROUTES = {"detection.run_analysis": {"queue": env_str("DFD_ANALYSIS_QUEUE", CELERY_TASK_DEFAULT_QUEUE)}}
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 900)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 960)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

CELERY_BEAT_SCHEDULE = {
    "reap-stale-analyses": {"task": "detection.reap_stale_analyses", "schedule": env_int("DFD_REAP_INTERVAL_SECONDS", 60)},
}

# --- Detection: models, limits on uploads, worker liveness --------------------------------
DFD_MODELS_DIR = Path(env_str("DFD_MODELS_DIR", str(BASE_DIR / "models")))
DFD_MAX_UPLOAD_BYTES = env_int("DFD_MAX_UPLOAD_MB", 200) * 1024 * 1024
DFD_MAX_DURATION_SECONDS = env_int("DFD_MAX_DURATION_SECONDS", 600)
DFD_MAX_PIXELS = env_int("DFD_MAX_PIXELS", 3840 * 2160)
# Content Credentials (detection/provenance.py): a PEM file of the certificates whose signers count
# as trusted (the C2PA trust list, say); without it, valid credentials read "signer on no trust list".
DFD_C2PA_TRUST_ANCHORS = env_str("DFD_C2PA_TRUST_ANCHORS", "")
DFD_FRAMES_MIN, DFD_FRAMES_MAX, DFD_FRAMES_DEFAULT = 10, 100, 20
DFD_MAX_RUNNING_PER_USER = env_int("DFD_MAX_RUNNING_PER_USER", 5)
# Failed sign-ins are counted per (account, address), per account and per address (see
# accounts.services); the address limit is only a ceiling against credential stuffing.
DFD_SIGNIN_MAX_FAILURES = env_int("DFD_SIGNIN_MAX_FAILURES", 5)
DFD_SIGNIN_MAX_FAILURES_PER_ACCOUNT = env_int("DFD_SIGNIN_MAX_FAILURES_PER_ACCOUNT", 20)
DFD_SIGNIN_MAX_FAILURES_PER_ADDRESS = env_int("DFD_SIGNIN_MAX_FAILURES_PER_ADDRESS", 100)
DFD_SIGNIN_LOCKOUT_SECONDS = env_int("DFD_SIGNIN_LOCKOUT_SECONDS", 900)
DFD_PASSWORD_RESETS_PER_EMAIL = env_int("DFD_PASSWORD_RESETS_PER_EMAIL", 3)
DFD_PASSWORD_RESETS_PER_ADDRESS = env_int("DFD_PASSWORD_RESETS_PER_ADDRESS", 10)
DFD_MAX_UPLOADS_PER_DAY = env_int("DFD_MAX_UPLOADS_PER_DAY", 200)
# A processing analysis whose heartbeat is older than this is taken for lost.
DFD_HEARTBEAT_STALE_SECONDS = env_int("DFD_HEARTBEAT_STALE_SECONDS", 180)
# How many times an analysis may be started before the reaper gives up on it.
# Fetching submitted links and delivering webhooks (dfdsite/outbound.py): private and loopback
# addresses are refused unless this is set (tests; an intranet deployment).
DFD_OUTBOUND_ALLOW_PRIVATE = env_bool("DFD_OUTBOUND_ALLOW_PRIVATE", False)
# Fetching a submitted link (detection/fetch.py): the whole download must end within this.
DFD_FETCH_TIMEOUT_SECONDS = env_int("DFD_FETCH_TIMEOUT_SECONDS", 300)
# Files and links one batch may hold (each is checked against the per-person limits on its own).
DFD_MAX_BATCH_FILES = env_int("DFD_MAX_BATCH_FILES", 20)
DFD_MAX_ATTEMPTS = env_int("DFD_MAX_ATTEMPTS", 2)
# Webhooks (webhooks/): links in their bodies start with DFD_SITE_URL (workers have no request
# to take it from); a failed delivery is tried again after base, 3 x base, 9 x base ... seconds.
DFD_SITE_URL = env_str("DFD_SITE_URL", "http://127.0.0.1:8000").rstrip("/")
DFD_WEBHOOK_MAX_ATTEMPTS = env_int("DFD_WEBHOOK_MAX_ATTEMPTS", 5)
DFD_WEBHOOK_RETRY_BASE_SECONDS = float(env_str("DFD_WEBHOOK_RETRY_BASE_SECONDS", "10"))
DFD_WEBHOOK_TIMEOUT_SECONDS = float(env_str("DFD_WEBHOOK_TIMEOUT_SECONDS", "10"))
DFD_WEBHOOK_MAX_ENDPOINTS = env_int("DFD_WEBHOOK_MAX_ENDPOINTS", 10)
# Uploads over 2.5 MB are streamed to temporary files, never held in memory.
FILE_UPLOAD_TEMP_DIR = env_str("DJANGO_FILE_UPLOAD_TEMP_DIR") or None
# Every route but the two upload routes takes at most this much body (forms and JSON are a few
# KB); BodyLimitMiddleware refuses larger ones from their Content-Length, before reading them.
DATA_UPLOAD_MAX_MEMORY_SIZE = 256 * 1024
DATA_UPLOAD_MAX_NUMBER_FIELDS = 100
DATA_UPLOAD_MAX_NUMBER_FILES = DFD_MAX_BATCH_FILES  # a batch sends several; the single routes refuse more than one

# How many reverse proxies in front of the web server each append the address they saw to
# X-Forwarded-For. 0: the header is ignored, since any client can send one. N: the N-th entry
# from the right is the client (dfdsite.middleware.ClientAddressMiddleware), for sign-in
# limits, password-reset limits and API throttles alike.
DFD_TRUSTED_PROXIES = env_int("DFD_TRUSTED_PROXIES", 0)
if DFD_TRUSTED_PROXIES < 0:
    raise ImproperlyConfigured(f"DFD_TRUSTED_PROXIES must be 0 or more, got {DFD_TRUSTED_PROXIES}")

# Throttle and sign-in counters live in the cache: per process by default; with several web
# processes point DJANGO_CACHE_URL at Redis so the limits hold across them.
DJANGO_CACHE_URL = env_str("DJANGO_CACHE_URL")
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": DJANGO_CACHE_URL}
    if DJANGO_CACHE_URL
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
}

# --- REST API (/api/v1/): tokens or the session, JSON errors, throttling, OpenAPI -------------
DFD_API_THROTTLE_USER = env_str("DFD_API_THROTTLE_USER", "1000/hour")
DFD_API_THROTTLE_ANON = env_str("DFD_API_THROTTLE_ANON", "60/hour")
DFD_API_THROTTLE_UPLOADS = env_str("DFD_API_THROTTLE_UPLOADS", "100/day")
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_PARSER_CLASSES": [
        "rest_framework.parsers.JSONParser",
        "rest_framework.parsers.MultiPartParser",
        "rest_framework.parsers.FormParser",
    ],
    "DEFAULT_THROTTLE_CLASSES": [
        "detection.api.throttling.UserThrottle",
        "detection.api.throttling.AnonThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "user": DFD_API_THROTTLE_USER,
        "anon": DFD_API_THROTTLE_ANON,
        "uploads": DFD_API_THROTTLE_UPLOADS,
    },
    "EXCEPTION_HANDLER": "dfdsite.api.exception_handler",
    # ClientAddressMiddleware already put the client's address (by DFD_TRUSTED_PROXIES) in
    # REMOTE_ADDR: 0 makes DRF's throttles use it, and never read X-Forwarded-For themselves.
    "NUM_PROXIES": 0,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "dfdsite.api.length_required_on_bodies"],
    "TITLE": f"{env_str('SITE_NAME', 'Deepfake Detector')} API",
    "DESCRIPTION": (
        "Upload videos, follow their analysis and read the verdicts. Authenticate with a token "
        "(`Authorization: Token <token>`, from `POST /api/v1/auth/token/` or the tokens page of your "
        "account) or, in the browser, with your session. Errors share one shape: "
        '`{"error": {"status", "code", "message", "fields"}}`.'
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI and Redoc from drf-spectacular-sidecar's static files: no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SWAGGER_UI_SETTINGS": {"persistAuthorization": True},
    "ENUM_NAME_OVERRIDES": {
        "AnalysisStatusEnum": "detection.models.Analysis.Status",
        "HealthStatusEnum": [("ok", "ok"), ("degraded", "degraded")],
        "HealthCheckStatusEnum": [("ok", "ok"), ("error", "error")],
    },
}

# --- E-mail: console by default, SMTP when EMAIL_HOST is set -----------------------------
EMAIL_HOST = env_str("EMAIL_HOST")
if EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_PORT = env_int("EMAIL_PORT", 587)
    EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
    EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Deepfake Detector <noreply@localhost>")

SITE_NAME = env_str("SITE_NAME", "Deepfake Detector")

# --- Production hardening: on whenever DEBUG is off ---------------------------------------
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("DJANGO_SECURE_HSTS_PRELOAD", True)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("DJANGO_LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
