"""Settings for the console, read from the environment.

Every value has a default that runs on one machine with no servers (SQLite, a file-backed
channel layer, Celery on kombu's filesystem transport). Setting DATABASE_URL, REDIS_URL or
CELERY_BROKER_URL switches that piece to a real server; nothing else changes.
"""

import os
import secrets
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from csp.constants import NONE, SELF

from presentations.limits import EDITOR_MAX_FIELDS

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("TCADH_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    return int(_env_number(name, default, int))


def env_float(name: str, default: float) -> float:
    return float(_env_number(name, default, float))


def _env_number(name: str, default, kind):
    value = os.environ.get(name)
    if value is None:
        return default
    try:
        return kind(value)
    except ValueError:
        # Said at start-up with the variable's name, not as a bare ValueError from deep in settings.
        raise ImproperlyConfigured(f"{name} must be {'an integer' if kind is int else 'a number'}, not {value!r}") from None


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def local_secret(name: str) -> str:
    """A random secret kept under var/, so a laptop install keeps its sessions across restarts."""
    path = VAR_DIR / name
    if not path.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


DEBUG = env_bool("DEBUG", True)
SECRET_KEY = os.environ.get("SECRET_KEY") or local_secret("secret_key")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

# Fernet keys for accesstokens at rest, newest first; older keys still decrypt during a rotation.
TCADH_ENCRYPTION_KEYS = env_list("TCADH_ENCRYPTION_KEYS", "")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "django_celery_beat",
    "csp",
    "axes",
    "sessions_app",
    "presentations",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # After sessions, before common: the language from the switcher's cookie or Accept-Language.
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "tcadh_console.permissions_policy.PermissionsPolicyMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "tcadh_console.urls"
ASGI_APPLICATION = "tcadh_console.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "sessions_app.context_processors.roles",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 0),
    )
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # Daphne, the worker and beat write the same file; WAL and a busy timeout keep them from
    # failing each other with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # redis-py's 5 s socket timeout equals channels_redis's blocking-pop timeout, so every
            # idle receive would race it and fail; give reads room.
            "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": 30}]},
        }
    }
else:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "tcadh_console.file_layer.SQLiteChannelLayer",
            "CONFIG": {"path": str(VAR_DIR / "channels.sqlite3")},
        }
    }

# Sweep state that every process must agree on (orphan first sightings, polling de-duplication):
# a cache all of them share, never one per process.
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL,
                          "KEY_PREFIX": "tcadh"}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
                          "LOCATION": str(VAR_DIR / "cache")}}

CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL") or REDIS_URL or "filesystem://"
if CELERY_BROKER_URL == "filesystem://":
    CELERY_BROKER_TRANSPORT = "tcadh_console.file_broker:Transport"
    _queue_dir = VAR_DIR / "celery"
    for _folder in ("queue", "processed", "control"):
        (_queue_dir / _folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir / "queue"),
        "data_folder_out": str(_queue_dir / "queue"),
        "processed_folder": str(_queue_dir / "processed"),
        "control_folder": str(_queue_dir / "control"),
        "store_processed": False,
    }
# At-least-once: a task is acknowledged only once it ran, and one whose worker died is handed to
# another worker. Every task is idempotent (rows are claimed conditionally), so a second run is
# harmless. On Redis an unacknowledged task comes back after the visibility timeout, which must
# outlast the longest task and countdown; on RabbitMQ it comes back as soon as the connection drops.
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_TASK_ACKS_ON_FAILURE_OR_TIMEOUT = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 120
CELERY_TASK_SOFT_TIME_LIMIT = 100
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
TCADH_CELERY_VISIBILITY_TIMEOUT = env_int("TCADH_CELERY_VISIBILITY_TIMEOUT", 300)
if CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": TCADH_CELERY_VISIBILITY_TIMEOUT}
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = "UTC"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    # First: refuses a login while its username and address are locked out, before any password check.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Login throttling: this many wrong passwords for one username from one address lock that pair out
# for AXES_COOLOFF_MINUTES (an admin unlocks sooner: `manage.py axes_reset_username <name>` or Admin →
# Axes). A right password clears the count.
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "sessions_app.login_lockout.lockout_response"

# The editor posts six fields a cue: the limit follows the largest script the importer accepts.
DATA_UPLOAD_MAX_NUMBER_FIELDS = EDITOR_MAX_FIELDS

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en"
# Each language named in itself, as the header's switcher shows it.
LANGUAGES = [("en", "English"), ("zh-hans", "简体中文")]
# The console's catalogues, then the Chinese of installed packages that ship none (their admin pages).
LOCALE_PATHS = [BASE_DIR / "locale", BASE_DIR / "locale_packages"]
FORMAT_MODULE_PATH = ["tcadh_console.formats"]
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# The player libraries come from npm (package.json) and are served as they ship, no build step.
NODE_MODULES = BASE_DIR / "node_modules"
VENDOR_DIRS = {
    "mpegts": NODE_MODULES / "mpegts.js" / "dist",
    "hls": NODE_MODULES / "hls.js" / "dist",
    "tcplayer": NODE_MODULES / "tcplayer.js" / "dist",
    "trtc": NODE_MODULES / "trtc-sdk-v5",
}
STATICFILES_DIRS = [BASE_DIR / "static"] + [
    (f"vendor/{name}", path) for name, path in VENDOR_DIRS.items() if path.is_dir()
]
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", VAR_DIR / "static"))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        # Not the manifest variant: the npm player bundles name source maps they do not ship.
        else "whitenoise.storage.CompressedStaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
]

if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    # Only for plain HTTP on a private network (and the loopback test cluster); check --deploy warns.
    SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", True)
    CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", True)
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)

# How long a preparing session may take before it is failed and closed in the cloud.
TCADH_READY_TIMEOUT_SECONDS = env_int("TCADH_READY_TIMEOUT_SECONDS", 120)
# The sweeps that keep every paid session in step with the cloud (applied each time beat starts).
TCADH_SWEEP_PREPARING_SECONDS = env_int("TCADH_SWEEP_PREPARING_SECONDS", 5)
TCADH_SWEEP_IDLE_SECONDS = env_int("TCADH_SWEEP_IDLE_SECONDS", 30)
TCADH_SWEEP_RECONCILE_SECONDS = env_int("TCADH_SWEEP_RECONCILE_SECONDS", 30)
# A close claimed this long ago and not finished is taken as lost (its process died) and retried.
TCADH_STALE_CLOSING_SECONDS = env_int("TCADH_STALE_CLOSING_SECONDS", 60)
# A failed closesession is retried after 5 s, then twice as long each time, up to this.
TCADH_CLOSE_RETRY_MAX_SECONDS = env_int("TCADH_CLOSE_RETRY_MAX_SECONDS", 300)
# A session the cloud lists but the console does not know becomes an orphan when still unknown
# this long after it was first seen (its createsession reply may still be on its way).
TCADH_ORPHAN_CONFIRM_SECONDS = env_int("TCADH_ORPHAN_CONFIRM_SECONDS", 20)
# The simulator's address, registered as the demo account by `make run`.
TCADH_SIM_URL = os.environ.get("TCADH_SIM_URL", "http://127.0.0.1:8001")

# Content-Security-Policy: scripts only from this origin (no inline script, no eval, no inline
# handlers). The players stream from other origins: the simulator's port here, the cloud's CDN and
# TRTC's servers in production (TCADH_STREAM_ORIGINS). mpegts.js and hls.js play through Media
# Source blobs; hls.js and TRTC run blob: workers. Styles allow inline: tcplayer and TRTC set style
# attributes on the elements they build, and CSS cannot run script.
def _stream_origins() -> list[str]:
    origins = []
    for address in env_list("TCADH_STREAM_ORIGINS", TCADH_SIM_URL):
        parts = urlsplit(address)
        origins.append(f"{parts.scheme}://{parts.netloc}")
        origins.append(f"{'wss' if parts.scheme == 'https' else 'ws'}://{parts.netloc}")
    return origins


TCADH_STREAM_ORIGINS = _stream_origins()
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "script-src-attr": [NONE],
        "style-src": [SELF, "'unsafe-inline'"],
        "img-src": [SELF, "data:", "blob:"],
        "font-src": [SELF, "data:"],
        # 'self' covers ws:// and wss:// of the console's own host (CSP level 3).
        "connect-src": [SELF, *TCADH_STREAM_ORIGINS],
        "media-src": [SELF, "blob:", *TCADH_STREAM_ORIGINS],
        "worker-src": [SELF, "blob:"],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}
# Powerful browser features: the microphone for this origin's pages only; nothing else.
PERMISSIONS_POLICY = {
    "microphone": ["self"], "fullscreen": ["self"], "autoplay": ["self"],
    "camera": [], "geolocation": [], "payment": [], "usb": [], "midi": [], "display-capture": [],
    "accelerometer": [], "gyroscope": [], "magnetometer": [],
}

# The chat relay: each started session's command channel, shared by the tabs that have it open.
# After the last tab leaves, the channel stays this long for a reload to find it.
TCADH_RELAY_GRACE_SECONDS = env_float("TCADH_RELAY_GRACE_SECONDS", 10)
# ... and then until what was queued is sent, for at most this long.
TCADH_RELAY_DRAIN_SECONDS = env_float("TCADH_RELAY_DRAIN_SECONDS", 30)
# Frames queued per session before a page is told to wait.
TCADH_RELAY_OUTBOX = env_int("TCADH_RELAY_OUTBOX", 256)
TCADH_RELAY_OPEN_TIMEOUT = env_float("TCADH_RELAY_OPEN_TIMEOUT", 10)
TCADH_RELAY_SEND_TIMEOUT_SECONDS = env_float("TCADH_RELAY_SEND_TIMEOUT_SECONDS", 5)
# Reconnection waits this, doubling up to the maximum.
TCADH_RELAY_BACKOFF_SECONDS = env_float("TCADH_RELAY_BACKOFF_SECONDS", 0.5)
TCADH_RELAY_BACKOFF_MAX_SECONDS = env_float("TCADH_RELAY_BACKOFF_MAX_SECONDS", 15)
# Between 30 s and 1 min apart, as the cloud asks (PROTOCOL §11.6).
TCADH_RELAY_HEARTBEAT_SECONDS = env_float("TCADH_RELAY_HEARTBEAT_SECONDS", 40)
# Texts are held, not refused, to keep them more than 1 s apart (PROTOCOL §11.3).
TCADH_RELAY_TEXT_INTERVAL_SECONDS = env_float("TCADH_RELAY_TEXT_INTERVAL_SECONDS", 1.1)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.channels.server": {"level": "WARNING"},
        # urllib3 writes full request URLs, signatures included, at DEBUG.
        "urllib3": {"level": "WARNING"},
    },
}
