"""Test settings: the real settings module, fed a fixed test environment.

pytest-django imports settings before any conftest runs, so the environment is set
here. Variables that could point tests at real services are dropped; the test
database is chosen only through DFD_TEST_DATABASE_URL (the PostgreSQL pass of
`make test` sets it).
"""

import atexit
import os
import shutil
import tempfile

for name in ("DATABASE_URL", "STORAGE_BACKEND", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND", "EMAIL_HOST", "DFD_MODELS_DIR"):
    os.environ.pop(name, None)
if os.environ.get("DFD_TEST_DATABASE_URL"):
    os.environ["DATABASE_URL"] = os.environ["DFD_TEST_DATABASE_URL"]

TEST_VAR_DIR = tempfile.mkdtemp(prefix="dfd-test-var-")
atexit.register(shutil.rmtree, TEST_VAR_DIR, ignore_errors=True)
os.environ["DJANGO_DEBUG"] = "1"
os.environ["DFD_VAR_DIR"] = TEST_VAR_DIR
os.environ["DJANGO_MEDIA_ROOT"] = os.path.join(TEST_VAR_DIR, "media")
os.environ["DFD_MODELS_DIR"] = os.path.join(TEST_VAR_DIR, "models")
# Playwright's sync API runs an event loop in the test thread; Django would otherwise
# refuse database access from it.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

from dfdsite.settings import *  # noqa: E402,F403

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # A file, not memory: worker processes started by tests must see the same database.
    DATABASES["default"]["TEST"] = {"NAME": os.path.join(TEST_VAR_DIR, "test-db.sqlite3")}  # noqa: F405

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast, tests only
