"""The STORAGES["default"] entry, from environment variables (also used by tests to point
a process at a SeaweedFS server)."""

from collections.abc import Mapping
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured


def default_storage_settings(env: Mapping[str, str], media_root: Path) -> dict:
    backend = env.get("STORAGE_BACKEND", "local") or "local"
    if backend == "local":
        return {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": media_root}}
    if backend != "s3":
        raise ImproperlyConfigured(f"STORAGE_BACKEND must be 'local' or 's3', got {backend!r}")
    bucket = env.get("AWS_STORAGE_BUCKET_NAME", "")
    if not bucket:
        raise ImproperlyConfigured("STORAGE_BACKEND=s3 needs AWS_STORAGE_BUCKET_NAME.")
    return {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": bucket,
            # Empty credentials fall back to boto3's own chain (instance roles, ~/.aws).
            "access_key": env.get("AWS_ACCESS_KEY_ID") or None,
            "secret_key": env.get("AWS_SECRET_ACCESS_KEY") or None,
            "endpoint_url": env.get("AWS_S3_ENDPOINT_URL") or None,
            "region_name": env.get("AWS_S3_REGION_NAME") or None,
            "addressing_style": env.get("AWS_S3_ADDRESSING_STYLE", "path"),
            "signature_version": "s3v4",
            "default_acl": "private",
            "querystring_auth": True,
            "querystring_expire": int(env.get("AWS_QUERYSTRING_EXPIRE", "300")),
            "file_overwrite": False,
            "location": env.get("AWS_LOCATION", ""),
        },
    }
