"""Settings for the registrar back-office.

Every knob is an environment variable (optionally read from a `.env` file at the
project root) with a default that is safe for production. The development
defaults only switch on when `DEBUG` is on, which `python dev.py run` does.
"""

import secrets
from pathlib import Path

import environ
from celery.schedules import crontab
from csp.constants import NONCE
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

VAR_DIR = Path(env("VAR_DIR", default=str(BASE_DIR / "var")))

DEBUG = env.bool("DEBUG", default=False)


def _secret_key() -> str:
    """Return SECRET_KEY; in development, generate one once and keep it under var/."""
    configured = env("SECRET_KEY", default="")
    if configured:
        return configured
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. It is required when DEBUG is off: set the SECRET_KEY "
            "environment variable to a long random value (for example the output of "
            "`python -c 'import secrets; print(secrets.token_urlsafe(50))'`)."
        )
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "backoffice.apps.BackofficeAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_filters",
    "django_countries",
    # The second factor: TOTP apps, printed backup codes and passkeys (WebAuthn).
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "django_otp_webauthn",
    # Login throttling: lockout per user and address, attempts kept for Admins.
    "axes",
    "csp",
    "registrar",
    "contacts",
    "billing",
    # Last, so that its post_migrate hook (role setup) runs after every other
    # app's permissions exist.
    "backoffice",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # request.user.is_verified(): whether this session passed a second factor.
    "django_otp.middleware.OTPMiddleware",
    # Absolute session lifetime, the web channel and step-up freshness for the audit
    # trail and the services (backoffice/assurance.py).
    "backoffice.middleware.StaffSessionMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last, as django-axes asks: it turns a lockout into its own response.
    "axes.middleware.AxesMiddleware",
]

AUTHENTICATION_BACKENDS = [
    # First: refuses a locked-out user or address before any password is checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

ROOT_URLCONF = "backoffice.urls"
WSGI_APPLICATION = "backoffice.wsgi.application"
ASGI_APPLICATION = "backoffice.asgi.application"

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
                # The demo's "two-factor login is off" banner.
                "backoffice.security.context.second_factor",
            ],
        },
    },
]

DATABASES = {
    "default": env.db(
        "DATABASE_URL", default=f"sqlite:///{(VAR_DIR / 'backoffice.sqlite3').as_posix()}"
    )
}
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=0))
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded default: make SQLite behave under a web server, a worker and
    # beat writing at once (WAL, a busy timeout, immediate write transactions).
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
elif DATABASES["default"]["ENGINE"].startswith("django.db.backends.postgresql") and not env.bool(
        "DATABASE_JIT", default=False):
    # No JIT compilation for the back-office's queries: each is an index scan of a few
    # rows, and compiling one costs more than running it (the needs-attention report
    # spent half its time compiling). DATABASE_JIT=true gives it back.
    _options = DATABASES["default"].setdefault("OPTIONS", {})
    _options["options"] = f"{_options.get('options', '')} -c jit=off".strip()

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
     "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env("STATIC_ROOT", default=str(VAR_DIR / "static")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

LOGIN_URL = "admin:login"
LOGIN_REDIRECT_URL = "admin:index"

# --- Security -------------------------------------------------------------
# Secure by default; development over plain http on loopback turns these off
# through DEBUG. Behind a TLS-terminating proxy set SECURE_PROXY_SSL_HEADER.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
if env("SECURE_PROXY_SSL_HEADER", default=""):
    SECURE_PROXY_SSL_HEADER = (env("SECURE_PROXY_SSL_HEADER"), "https")
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
# Staff sessions end when the browser closes, and after an idle limit: the
# cookie is re-issued on every request, so its age is the idle time allowed.
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_AGE = env.int("SESSION_IDLE_SECONDS", default=2 * 60 * 60)
SESSION_SAVE_EVERY_REQUEST = True
# However active, a session ends this long after its login (backoffice/middleware.py).
SESSION_ABSOLUTE_SECONDS = env.int("SESSION_ABSOLUTE_SECONDS", default=10 * 60 * 60)

# --- Staff authentication ---------------------------------------------------
# A second factor is required of every staff login whenever DEBUG is off; the demo may
# leave it off and then shows a banner saying so. `check --deploy` warns when it is off.
STAFF_MFA_REQUIRED = env.bool("STAFF_MFA_REQUIRED", default=not DEBUG)
# High-risk operations need a second factor given within this many seconds (step-up).
STEP_UP_MAX_AGE_SECONDS = env.int("STEP_UP_MAX_AGE_SECONDS", default=5 * 60)
# Two-person approval: a request must be approved by someone else within this window,
# and the operations that need one (registrar/approvals.py lists the names).
APPROVAL_WINDOW_SECONDS = env.int("APPROVAL_WINDOW_SECONDS", default=60 * 60)
TWO_PERSON_OPERATIONS = env.list("TWO_PERSON_OPERATIONS", default=[
    "unlock_protected", "registrant_change", "transfer_out_approve", "push_transfer",
    "auth_code_flagged",
])
OTP_TOTP_ISSUER = env("OTP_TOTP_ISSUER", default="Registrar back-office")
# Passkeys are bound to the site's host name: the first allowed host unless set. In
# development, localhost: browsers accept passkeys over plain http only there, and
# never for an IP address.
OTP_WEBAUTHN_RP_ID = env("OTP_WEBAUTHN_RP_ID", default="localhost" if DEBUG else (
    ALLOWED_HOSTS or ["localhost"])[0])
OTP_WEBAUTHN_RP_NAME = env("OTP_WEBAUTHN_RP_NAME", default="Registrar back-office")
# A passkey is the second step after the password, never a login on its own.
OTP_WEBAUTHN_ALLOW_PASSWORDLESS_LOGIN = False
OTP_WEBAUTHN_ALLOWED_ORIGINS = env.list("OTP_WEBAUTHN_ALLOWED_ORIGINS", default=(
    ["http://localhost:8000"] if DEBUG
    else [f"https://{host}" for host in ALLOWED_HOSTS if not host.startswith(".")])
    or ["https://localhost"])
# Lockout after repeated failures for one user from one address (django-axes).
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("AXES_COOLOFF_HOURS", default=1.0)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# The lockout ends when its page says, however often the login is tried meanwhile.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_IPWARE_PROXY_COUNT = env.int("AXES_PROXY_COUNT", default=0)
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
# Renders that template with the admin's context and the time the lockout ends.
AXES_LOCKOUT_CALLABLE = "backoffice.security.lockout.lockout_response"
# Every failure kept (AccessFailureLog), not only the running count per user and address.
AXES_ENABLE_ACCESS_FAILURE_LOG = True

# Content-Security-Policy (django-csp): nothing inline without a per-response nonce.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'", NONCE],
        "style-src": ["'self'", NONCE],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
        "base-uri": ["'self'"],
        "object-src": ["'none'"],
    },
}

# A cache shared by every process on the machine (web, worker): the Entri JWT is
# minted once and reused by all. Production: CACHE_URL=redis://.../1.
CACHES = {"default": env.cache("CACHE_URL", default=f"filecache://{VAR_DIR / 'cache'}")}

# --- Celery ---------------------------------------------------------------
# Default: the kombu filesystem transport under var/, so background work needs
# no broker server. Production: CELERY_BROKER_URL=redis://...
# "localhost" names no server: kombu only warns, at every connection, when it is left out.
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="filesystem://localhost/")
CELERY_RESULT_BACKEND = env("CELERY_RESULT_BACKEND", default=None)
# Tasks are acknowledged when they end (acks_late), so one whose worker died is given to
# another. With Redis, an unacknowledged task comes back after the visibility timeout:
# sized to the longest acks-late task (a poll, an order follow-up: minutes), not to
# Redis's default hour. The long jobs (the nightly syncs) are acknowledged when they
# start instead: they are idempotent and run again the next night.
CELERY_VISIBILITY_TIMEOUT = env.int("CELERY_VISIBILITY_TIMEOUT", default=900)
CELERY_BROKER_TRANSPORT_OPTIONS = (
    {
        "data_folder_in": str(VAR_DIR / "celery" / "queue"),
        "data_folder_out": str(VAR_DIR / "celery" / "queue"),
        "processed_folder": str(VAR_DIR / "celery" / "processed"),
        # Else kombu keeps its broadcast exchanges in ./control, wherever it was started.
        "control_folder": str(VAR_DIR / "celery" / "control"),
        "store_processed": False,
    }
    if CELERY_BROKER_URL.startswith("filesystem")
    else {"visibility_timeout": CELERY_VISIBILITY_TIMEOUT}
)
if CELERY_BROKER_URL.startswith("filesystem"):
    for folder in ("queue", "processed", "control"):
        (VAR_DIR / "celery" / folder).mkdir(parents=True, exist_ok=True)
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    # Follow registrar processes even if a poll was lost (worker restart, broker outage).
    "poll-open-processes": {"task": "registrar.poll_open_processes",
                            "schedule": env.float("PROCESS_SWEEP_SECONDS", default=60.0)},
    # Registrations whose last operation's answer was lost and that could not be read
    # again yet: another attempt.
    "settle-unsettled": {"task": "registrar.settle_unsettled", "schedule": crontab(minute="*/10")},
    # Give processes marked stuck one more look, in case they finished since.
    "sweep-stuck-processes": {"task": "registrar.sweep_stuck_processes",
                              "schedule": crontab(minute=17)},
    # Email-infrastructure orders still provisioning whose follow-up was lost.
    "follow-open-email-orders": {"task": "billing.follow_open_email_orders",
                                 "schedule": crontab(minute=37)},
    # Orders placed with no usable answer: ask their upstream again.
    "settle-unsettled-orders": {"task": "billing.settle_unsettled_orders",
                                "schedule": crontab(minute="*/10")},
    # Domain-order quotes nobody confirmed in time end cancelled.
    "expire-quotes": {"task": "billing.expire_quotes", "schedule": crontab(minute=47)},
    # The finance pages' totals of all orders are kept as appended deltas: fold them.
    "compact-order-totals": {"task": "billing.compact_order_totals",
                             "schedule": crontab(minute="*/5")},
    # Customer renewal notices (NOTICE_SCHEDULE): hourly, so a notice goes out within the
    # hour it is due; each is sent once however often this runs.
    "send-renewal-notices": {"task": "registrar.send_renewal_notices",
                             "schedule": crontab(minute=27)},
    # Domain API orders have no webhook: read the open ones again every few minutes.
    "follow-domain-orders": {"task": "billing.follow_domain_orders",
                             "schedule": env.float("DOMAIN_ORDER_FOLLOW_SECONDS",
                                                   default=180.0)},
    # Reconcile the mirror with every enabled registrar account, at night (UTC): the
    # registrations, then the orders (an order links, or makes, its registration).
    "nightly-sync": {"task": "registrar.sync_all_providers",
                     "schedule": crontab(hour=env.int("SYNC_HOUR", default=3), minute=7)},
    "nightly-order-sync": {"task": "billing.mirror_all_orders",
                           "schedule": crontab(hour=env.int("SYNC_HOUR", default=3),
                                               minute=37)},
}
CELERY_TASK_ACKS_LATE = True
# A pool child killed mid-task (OOM, kill -9) gives its task back to the queue instead of
# losing it; every acks-late task is safe to run again (idempotent, or guarded).
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = "UTC"
# The worker logs through LOGGING below (and its redaction filter), not handlers of its own.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# Following registrar processes: poll with capped backoff; after the limit a process
# is marked stuck for staff instead of being polled forever.
PROCESS_POLL_BASE_DELAY = env.float("PROCESS_POLL_BASE_DELAY", default=5.0)
# Following a placed domain order: polled like a process, this many times; after that the
# periodic follow_domain_orders sweep keeps reading it.
DOMAIN_ORDER_FOLLOW_LIMIT = env.int("DOMAIN_ORDER_FOLLOW_LIMIT", default=40)
# Following an email-infrastructure order. Such upstreams (document 003) only say
# provisioning is asynchronous, not how long it takes, and a paid order waits for the
# customer first: a few polls close together per run, then a capped, growing delay,
# giving up after the limit (about two days with these defaults).
EMAIL_ORDER_POLLS_PER_RUN = env.int("EMAIL_ORDER_POLLS_PER_RUN", default=3)
EMAIL_ORDER_POLL_INTERVAL = env.float("EMAIL_ORDER_POLL_INTERVAL", default=10.0)
EMAIL_ORDER_FOLLOW_BASE_DELAY = env.float("EMAIL_ORDER_FOLLOW_BASE_DELAY", default=60.0)
EMAIL_ORDER_FOLLOW_MAX_DELAY = env.float("EMAIL_ORDER_FOLLOW_MAX_DELAY", default=3600.0)
EMAIL_ORDER_FOLLOW_LIMIT = env.int("EMAIL_ORDER_FOLLOW_LIMIT", default=60)
# The domain search asks every upstream at once and waits this long for each: one that
# has not answered by then is shown as not answering, and the page comes back.
DOMAIN_SEARCH_TIMEOUT_SECONDS = env.float("DOMAIN_SEARCH_TIMEOUT_SECONDS", default=8.0)
PROCESS_POLL_MAX_DELAY = env.float("PROCESS_POLL_MAX_DELAY", default=300.0)
PROCESS_POLL_LIMIT = env.int("PROCESS_POLL_LIMIT", default=40)
# A process whose next poll is this late has lost its chain (a worker died holding it):
# the minute sweep starts a new one. Longer than the longest gap between two polls.
PROCESS_POLL_LOST_AFTER = env.float("PROCESS_POLL_LOST_AFTER", default=600.0)

# The reconcile job refuses to write when more than this share of an account's
# registrations would change or go missing at once (--force overrides).
SYNC_MAX_CHANGE_SHARE = env.float("SYNC_MAX_CHANGE_SHARE", default=0.25)
# How long a staff operation waits for a registration row that the sync is writing (it
# holds rows one short batch at a time) before saying "busy".
ROW_LOCK_WAIT_SECONDS = env.float("ROW_LOCK_WAIT_SECONDS", default=5.0)
SYNC_CONCURRENCY = env.int("SYNC_CONCURRENCY", default=32)
# Parts one account's nightly sync is split into, each a Celery task reading every
# SYNC_SPLIT_PARTS-th page of the listing, so several workers share it (1: one task).
SYNC_SPLIT_PARTS = env.int("SYNC_SPLIT_PARTS", default=1)
# Registrations a page of the upstream listing asks for.
SYNC_PAGE_SIZE = env.int("SYNC_PAGE_SIZE", default=500)

# The finance area's needs-attention report lists a charged order as undelivered once
# it has waited this long for its registration or transfer.
FINANCE_UNDELIVERED_AFTER_MINUTES = env.int("FINANCE_UNDELIVERED_AFTER_MINUTES", default=60)

# A price quoted to staff for a domain order may be confirmed for this long; after it
# the order must be quoted again (upstream prices move).
# An order placed with no usable answer that its upstream still does not show after this
# long was not placed: it ends without a charge.
ORDER_SETTLE_GRACE_MINUTES = env.int("ORDER_SETTLE_GRACE_MINUTES", default=30)
ORDER_QUOTE_TTL_MINUTES = env.int("ORDER_QUOTE_TTL_MINUTES", default=15)
# Where a customer lands after the billing portal (sent as Entri's returnUrl).
BILLING_PORTAL_RETURN_URL = env.str("BILLING_PORTAL_RETURN_URL",
                                    default="https://www.example.com/account/billing")

# --- E-mail and customer renewal notices -----------------------------------
# EMAIL_URL (smtp://user:pass@host:25, smtp+tls://...:587, smtp+ssl://...:465,
# consolemail://) configures everything at once; otherwise EMAIL_HOST and friends. The
# demo (DEBUG) prints e-mail on the console; production sends by SMTP.
if env("EMAIL_URL", default=""):
    globals().update(env.email_url("EMAIL_URL"))
else:
    EMAIL_BACKEND = env("EMAIL_BACKEND", default=(
        "django.core.mail.backends.console.EmailBackend" if DEBUG
        else "django.core.mail.backends.smtp.EmailBackend"))
    EMAIL_HOST = env("EMAIL_HOST", default="localhost")
    EMAIL_PORT = env.int("EMAIL_PORT", default=25)
    EMAIL_HOST_USER = env("EMAIL_HOST_USER", default="")
    EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", default="")
    EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
    EMAIL_USE_SSL = env.bool("EMAIL_USE_SSL", default=False)
# A mail server that hangs must not hold the notice run (and its claims) forever.
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=30)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Example Registrar <renewals@example.com>")
SERVER_EMAIL = env("SERVER_EMAIL", default=DEFAULT_FROM_EMAIL)


def _notice_schedule(raw: dict) -> dict[str, int]:
    try:
        return {str(name): int(days) for name, days in raw.items()}
    except (TypeError, ValueError):
        raise ImproperlyConfigured(
            "NOTICE_SCHEDULE: give name=days pairs, days a whole number relative to expiry "
            "(negative before it), e.g. month_before=-30,week_before=-7,after_expiry=3."
        ) from None


# The renewal reminders the ICANN Expired Registration Recovery Policy asks of a
# registrar: about one month and about one week before expiry, and one within five days
# after it. Days relative to expiry; the names are what the notice rows record.
NOTICE_SCHEDULE = _notice_schedule(env.dict("NOTICE_SCHEDULE", default={
    "month_before": -30, "week_before": -7, "after_expiry": 3}))
# A notice is still sent late (the job was down) until the next point is due; the last
# point until this many days after expiry (the policy's five).
NOTICE_LAST_SEND_BY_DAYS = env.int("NOTICE_LAST_SEND_BY_DAYS", default=5)
# A notice the mail server refused is tried again by later runs, this many times in all.
NOTICE_MAX_ATTEMPTS = env.int("NOTICE_MAX_ATTEMPTS", default=3)
# What the notices tell the customer: where to renew ({domain} is replaced by the
# domain's ASCII name), who is writing and how to reach support.
NOTICE_RENEW_URL = env("NOTICE_RENEW_URL",
                       default="https://www.example.com/account/domains/{domain}/renew")
NOTICE_REGISTRAR_NAME = env("NOTICE_REGISTRAR_NAME", default="Example Registrar")
NOTICE_SUPPORT_EMAIL = env("NOTICE_SUPPORT_EMAIL", default="support@example.com")
NOTICE_SUPPORT_PHONE = env("NOTICE_SUPPORT_PHONE", default="")

# --- Providers ------------------------------------------------------------
# The built-in sandbox upstream is for development and tests only.
SANDBOX_ENABLED = env.bool("SANDBOX_ENABLED", default=DEBUG)
# Where the sandbox keeps its state between processes (web, worker, beat). The
# test suite sets it to None: an in-memory sandbox per test.
SANDBOX_STATE_FILE: Path | None = Path(
    env("SANDBOX_STATE_FILE", default=str(VAR_DIR / "sandbox.json"))
)
# The bearer token the sandbox accepts. Not a secret: the sandbox is never enabled
# in production.
SANDBOX_TOKEN = env("SANDBOX_TOKEN", default="sandbox-token")
PROVIDER_USER_AGENT = env("PROVIDER_USER_AGENT", default="registrar-backoffice/0.1")
# A webhook body above this is answered 413 before it is parsed (docs/webhooks.md).
WEBHOOK_MAX_BODY_BYTES = env.int("WEBHOOK_MAX_BODY_BYTES", default=64 * 1024)
# A provider account may name only environment variables under this prefix as its
# secret (or a <name>_FILE variable holding the path of a file with it): never the
# back-office's own SECRET_KEY or DATABASE_URL. See README, "Provider accounts".
PROVIDER_SECRET_ENV_PREFIX = "PROVIDER_SECRET_"  # noqa: S105 (a name prefix, not a secret)
# Development only: provider base URLs on loopback (the sandbox, local test servers),
# plain http included. Off, every base URL must be https on a public address.
PROVIDER_LOOPBACK_HTTP_ALLOWED = env.bool("PROVIDER_LOOPBACK_HTTP_ALLOWED", default=DEBUG)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    # Every handler masks tokens, auth codes, passwords and link tokens (backoffice/logredact.py).
    "filters": {"redact": {"()": "backoffice.logredact.RedactFilter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain",
                             "filters": ["redact"]}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {"httpx": {"level": "WARNING"}, "httpcore": {"level": "WARNING"},
                # Its start-up banner on every command; lockouts still log at WARNING.
                "axes.apps": {"level": "WARNING"},
                # Django's own default handlers (debug console, mail_admins, runserver)
                # are replaced by the console above, so no record skips the filter.
                "django": {"level": "INFO"},
                "django.server": {"handlers": ["console"], "level": "INFO",
                                  "propagate": False}},
}
