"""Opora settings: everything comes from ``OPORA_*`` environment variables.

Defaults are safe for an embedded trial (SQLite under ``var/``, a secret key generated once
into ``var/``); production sets the database URL, the secret, the hosts and the proxy flags.
The full reference is in the README ("Configuration").
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import dj_database_url
from django.utils.translation import gettext_lazy as _


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


BASE_DIR = Path(__file__).resolve().parent
#: Where the embedded database, the generated secret key and uploads live.
VAR_DIR = Path(os.environ.get("OPORA_VAR_DIR", Path.cwd() / "var")).resolve()
VAR_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key() -> str:
    key = os.environ.get("OPORA_SECRET_KEY")
    if key:
        return key
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        # Generated once and kept out of version control (var/ is ignored).
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = env_bool("OPORA_DEBUG", False)
ALLOWED_HOSTS = env_list("OPORA_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("OPORA_CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_filters",
    "django_tasks",
    "django_tasks_db",
    "opora.core",
    "opora.accounts",
    "opora.catalog",
    "opora.tickets",
    "opora.sla",
    "opora.mail",
    "opora.kb",
    "opora.search",
    "opora.web",
    "opora.agent",
    "opora.portal",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "opora.core.middleware.SecurityHeadersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "opora.accounts.middleware.UserLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "opora.urls"
WSGI_APPLICATION = "opora.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.template.context_processors.tz",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASE_URL = os.environ.get("OPORA_DATABASE_URL") or f"sqlite:///{VAR_DIR / 'opora.sqlite3'}"
DATABASES = {
    "default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("OPORA_DB_CONN_MAX_AGE", 60))
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web process read while the worker writes; IMMEDIATE transactions avoid
    # "database is locked" upgrades from read to write locks in the middle of an action.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
            " PRAGMA busy_timeout=10000;"
        ),
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    DATABASES["default"]["TEST"] = {"NAME": os.environ.get("OPORA_TEST_SQLITE_NAME", "")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "web:login"
LOGIN_REDIRECT_URL = "web:home"
LOGOUT_REDIRECT_URL = "web:login"

# --- Languages and time ----------------------------------------------------------------------
LANGUAGE_CODE = os.environ.get("OPORA_LANGUAGE", "ru")
LANGUAGES = [("ru", _("Russian")), ("en", _("English"))]
LOCALE_PATHS = [Path(os.environ.get("OPORA_LOCALE_DIR", BASE_DIR / "locale"))]
TIME_ZONE = os.environ.get("OPORA_TIME_ZONE", "Europe/Moscow")
USE_I18N = True
USE_TZ = True

# --- Static files and uploads ---------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = Path(os.environ.get("OPORA_STATIC_ROOT", VAR_DIR / "static"))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
WHITENOISE_USE_FINDERS = True  # serve straight from the apps when collectstatic was not run
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(os.environ.get("OPORA_MEDIA_ROOT", VAR_DIR / "media"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
#: Largest accepted attachment, in bytes.
OPORA_MAX_ATTACHMENT_BYTES = env_int("OPORA_MAX_ATTACHMENT_MB", 20) * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

# --- Security --------------------------------------------------------------------------------
SECURE_COOKIES = env_bool("OPORA_SECURE_COOKIES", not DEBUG)
SESSION_COOKIE_SECURE = SECURE_COOKIES
CSRF_COOKIE_SECURE = SECURE_COOKIES
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = False  # htmx reads the token from the cookie
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_SSL_REDIRECT = env_bool("OPORA_SSL_REDIRECT", False)
SECURE_HSTS_SECONDS = env_int("OPORA_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = SECURE_HSTS_SECONDS > 0
if env_bool("OPORA_BEHIND_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    USE_X_FORWARDED_HOST = True

# --- Email -----------------------------------------------------------------------------------
EMAIL_BACKEND = os.environ.get(
    "OPORA_EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if os.environ.get("OPORA_EMAIL_HOST")
    else "django.core.mail.backends.filebased.EmailBackend",
)
EMAIL_FILE_PATH = VAR_DIR / "outbox"
EMAIL_HOST = os.environ.get("OPORA_EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("OPORA_EMAIL_PORT", 25)
EMAIL_HOST_USER = os.environ.get("OPORA_EMAIL_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("OPORA_EMAIL_PASSWORD", "")
EMAIL_USE_TLS = env_bool("OPORA_EMAIL_TLS", False)
DEFAULT_FROM_EMAIL = os.environ.get("OPORA_FROM_EMAIL", "Opora <servicedesk@opora.local>")
OPORA_BASE_URL = os.environ.get("OPORA_BASE_URL", "http://127.0.0.1:8000")

# --- Background tasks ------------------------------------------------------------------------
TASKS = {
    "default": {
        "BACKEND": os.environ.get("OPORA_TASK_BACKEND", "django_tasks_db.DatabaseBackend"),
        "QUEUES": ["default"],
    }
}
#: The worker is reported unhealthy when its last heartbeat is older than this.
OPORA_WORKER_HEARTBEAT_SECONDS = env_int("OPORA_WORKER_HEARTBEAT_SECONDS", 15)
#: How often each worker scans SLA clocks for reached thresholds (at most a minute apart).
OPORA_SLA_SCAN_SECONDS = env_int("OPORA_SLA_SCAN_SECONDS", 30)
OPORA_WORKER_STALE_SECONDS = env_int("OPORA_WORKER_STALE_SECONDS", 120)

# --- Incoming mail ---------------------------------------------------------------------------
#: How often each worker checks the IMAP mailboxes (a mailbox is polled by one worker at a time).
OPORA_MAIL_POLL_SECONDS = env_int("OPORA_MAIL_POLL_SECONDS", 60)
#: More than this many messages from one sender within the window are refused unanswered.
OPORA_MAIL_RATE_LIMIT = env_int("OPORA_MAIL_RATE_LIMIT", 20)
OPORA_MAIL_RATE_WINDOW = env_int("OPORA_MAIL_RATE_WINDOW", 600)
# --- Outgoing mail (the outbox) --------------------------------------------------------------
#: How often each worker sends the outbox's due messages.
OPORA_MAIL_SEND_SECONDS = env_int("OPORA_MAIL_SEND_SECONDS", 5)
#: Attempts before a message is marked failed (retries after 1, 5, 15, 60, 240 minutes).
OPORA_MAIL_MAX_ATTEMPTS = env_int("OPORA_MAIL_MAX_ATTEMPTS", 6)
#: Attachments of a reply larger than this in total are linked instead of attached.
OPORA_MAIL_MAX_ATTACHMENTS_BYTES = env_int("OPORA_MAIL_MAX_ATTACHMENTS_BYTES", 10 * 1024 * 1024)

# --- API -------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "opora.core.api.Pagination",
    "PAGE_SIZE": 25,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "opora.core.api.StableOrderingFilter",
    ],
    "DEFAULT_PARSER_CLASSES": [
        "opora.core.api.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "opora.core.api.exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_THROTTLE_RATES": {"anon": "60/min"},
}
if DEBUG:
    REST_FRAMEWORK["DEFAULT_RENDERER_CLASSES"] = [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ]
SPECTACULAR_SETTINGS = {
    "TITLE": "Opora API",
    "DESCRIPTION": "The REST API of Opora, an open-source IT service desk.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    # Swagger UI is served from our own static files: no CDN at run time.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "LevelEnum": "opora.tickets.choices.Level",
        "ChannelEnum": "opora.tickets.choices.Channel",
        "IntakeChannelEnum": "opora.tickets.choices.INTAKE_CHANNEL_CHOICES",
        "StatusEnum": "opora.tickets.choices.Status",
        "WorkingStatusEnum": "opora.tickets.choices.WORKING_STATUS_CHOICES",
        "ResolutionCodeEnum": "opora.tickets.choices.ResolutionCode",
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("OPORA_LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# --- Knowledge base (opora.kb) --------------------------------------------------------------------
#: Months between revalidations per article type ("default" for the rest), e.g.
#: OPORA_KB_REVALIDATION_MONTHS="script=6,standard=24".
OPORA_KB_REVALIDATION_MONTHS = {
    "default": 12,
    **{
        key.strip(): int(value)
        for key, _sep, value in (
            item.partition("=")
            for item in os.environ.get("OPORA_KB_REVALIDATION_MONTHS", "").split(",")
        )
        if key.strip() and value.strip().isdigit()
    },
}
