"""Settings for the test suite: production settings with test-only relaxations.

DATABASE_URL chooses the database (SQLite in memory by default, PostgreSQL in CI).
"""

import os

os.environ.setdefault("DEBUG", "0")
os.environ.setdefault("SECRET_KEY", "test-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz")

from backoffice.settings import *  # noqa: F403

ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed, tests only
# The live server for browser tests speaks plain http on loopback.
SECURE_SSL_REDIRECT = False
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
SECURE_HSTS_SECONDS = 0
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
SANDBOX_ENABLED = True
# Tasks are published to an in-memory broker; tests run them explicitly.
CELERY_BROKER_URL = "memory://"
CELERY_BROKER_TRANSPORT_OPTIONS = {}
SANDBOX_STATE_FILE = None  # in memory, reset for every test
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # noqa: F405 (whitenoise warns when missing)
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":  # noqa: F405
    # Flushes between transactional tests get past the append-only triggers.
    DATABASES["default"]["ENGINE"] = "tests.postgresql"  # noqa: F405
# Most tests act through force_login and test what staff can do, not how they log in: no
# second factor asked. The login-security tests switch it on with the `settings` fixture.
STAFF_MFA_REQUIRED = False
# The operation tests exercise one person's operation at a time; the two-person rules are
# switched on, as production has them, by the approval tests (tests/registrar/test_approvals.py).
TWO_PERSON_OPERATIONS: list[str] = []
