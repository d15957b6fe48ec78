"""Settings for the scale benchmark: the production settings, measured as production
runs them (DEBUG off), with what a benchmark driving Django's test client needs: the
test client's host, plain http, no second factor asked of the benchmark's superuser
(it logs in with force_login), static files without a collected manifest, and the
URLconf that mounts the plain admin beside the project's (bench/scale_plain.py)."""

from backoffice.settings import *  # noqa: F403

ALLOWED_HOSTS = ["testserver"]
SECURE_SSL_REDIRECT = False
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
STAFF_MFA_REQUIRED = False
TWO_PERSON_OPERATIONS: list[str] = []
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
CELERY_BROKER_URL = "memory://"
CELERY_BROKER_TRANSPORT_OPTIONS: dict = {}
ROOT_URLCONF = "scale_plain"
