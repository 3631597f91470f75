"""Settings: the only reader of os.environ and of the optional policybot.toml.

Read once at start-up (``Settings.load()``) and passed down explicitly. Vendor variables keep vendor names
(``SLACK_BOT_TOKEN``, ``MicrosoftAppId`` ...); ours start with ``POLICYBOT_``; ``DATABASE_URL`` selects
PostgreSQL. A TOML file (``./policybot.toml`` or ``POLICYBOT_CONFIG``) may set any field by its Python name;
environment variables win over the file. Secrets are ``SecretStr`` and print as ``***``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

__all__ = ["PROJECT_ROOT", "Settings"]

#: The checkout (or install) root: where policy_corpus/ and deploy/ ship beside the packages.
PROJECT_ROOT = Path(__file__).resolve().parent.parent

BUNDLED_MODEL = "all-MiniLM-L6-v2"


def _env(*names: str) -> Any:
    """Accept a field from any of these environment names (first wins), and by its field name in TOML."""
    return AliasChoices(*names)


def _config_file() -> Path:
    return Path(os.environ.get("POLICYBOT_CONFIG", "policybot.toml"))


class Settings(BaseSettings):
    """Everything policybot can be told. ``describe()`` is the safe view for `policybot config check`."""

    model_config = SettingsConfigDict(
        case_sensitive=False,
        populate_by_name=True,
        extra="ignore",
        validate_default=True,
    )

    # --- state, corpus, model -------------------------------------------------------------------------
    var_dir: Path = Field(Path("var"), validation_alias=_env("POLICYBOT_VAR_DIR", "var_dir"))
    corpus_dir: Path = Field(
        PROJECT_ROOT / "policy_corpus", validation_alias=_env("POLICYBOT_CORPUS_DIR", "corpus_dir")
    )
    model: str = Field(BUNDLED_MODEL, validation_alias=_env("POLICYBOT_MODEL", "model"))
    directory_file: Path = Field(
        PROJECT_ROOT / "deploy" / "directory.example.toml",
        validation_alias=_env("POLICYBOT_DIRECTORY", "directory_file"),
    )

    # --- database and secrets ---------------------------------------------------------------------------
    database_url: str | None = Field(None, validation_alias=_env("DATABASE_URL", "database_url"))
    secret_key: SecretStr | None = Field(None, validation_alias=_env("POLICYBOT_SECRET_KEY", "secret_key"))
    admin_token: SecretStr | None = Field(None, validation_alias=_env("POLICYBOT_ADMIN_TOKEN", "admin_token"))

    # --- server -------------------------------------------------------------------------------------------
    host: str = Field("127.0.0.1", validation_alias=_env("POLICYBOT_HOST", "host"))
    port: int = Field(8080, ge=0, le=65535, validation_alias=_env("POLICYBOT_PORT", "port"))
    public_url: str | None = Field(None, validation_alias=_env("POLICYBOT_PUBLIC_URL", "public_url"))
    console: bool | None = Field(None, validation_alias=_env("POLICYBOT_CONSOLE", "console"))
    worker: bool = Field(True, validation_alias=_env("POLICYBOT_WORKER", "worker"))
    #: Web dashboard: how long a session lasts, and how long a one-time sign-in link stays valid.
    web_session_hours: float = Field(
        8.0, gt=0, le=24 * 7, validation_alias=_env("POLICYBOT_WEB_SESSION_HOURS", "web_session_hours")
    )
    signin_link_minutes: float = Field(
        15.0, gt=0, le=24 * 60, validation_alias=_env("POLICYBOT_SIGNIN_LINK_MINUTES", "signin_link_minutes")
    )
    log_level: str = Field("INFO", validation_alias=_env("POLICYBOT_LOG_LEVEL", "log_level"))
    log_format: Literal["auto", "json", "text"] = Field(
        "auto", validation_alias=_env("POLICYBOT_LOG_FORMAT", "log_format")
    )

    # --- Slack ---------------------------------------------------------------------------------------------
    slack_bot_token: SecretStr | None = Field(
        None, validation_alias=_env("SLACK_BOT_TOKEN", "slack_bot_token")
    )
    slack_signing_secret: SecretStr | None = Field(
        None, validation_alias=_env("SLACK_SIGNING_SECRET", "slack_signing_secret")
    )
    slack_app_token: SecretStr | None = Field(
        None, validation_alias=_env("SLACK_APP_TOKEN", "slack_app_token")
    )
    slack_api_url: str = Field(
        "https://slack.com/api/", validation_alias=_env("SLACK_API_URL", "slack_api_url")
    )
    #: Connect over Socket Mode (SLACK_APP_TOKEN) instead of, or as well as, the HTTP route.
    slack_socket_mode: bool = Field(
        False, validation_alias=_env("POLICYBOT_SLACK_SOCKET_MODE", "slack_socket_mode")
    )
    #: Seconds an answer may take before a progress reaction is shown.
    slack_progress_after: float = Field(
        0.5, ge=0, validation_alias=_env("POLICYBOT_SLACK_PROGRESS_AFTER", "slack_progress_after")
    )

    # --- Microsoft Teams -------------------------------------------------------------------------------
    microsoft_app_id: str | None = Field(None, validation_alias=_env("MicrosoftAppId", "microsoft_app_id"))
    microsoft_app_password: SecretStr | None = Field(
        None, validation_alias=_env("MicrosoftAppPassword", "microsoft_app_password")
    )
    microsoft_app_type: Literal["SingleTenant", "MultiTenant", "UserAssignedMSI"] = Field(
        "SingleTenant", validation_alias=_env("MicrosoftAppType", "microsoft_app_type")
    )
    microsoft_app_tenant_id: str | None = Field(
        None, validation_alias=_env("MicrosoftAppTenantId", "microsoft_app_tenant_id")
    )
    teams_dev: bool = Field(False, validation_alias=_env("POLICYBOT_TEAMS_DEV", "teams_dev"))
    #: Where to open a personal chat with someone who has never messaged the bot (learned from any incoming
    #: activity when unset; Teams' global endpoint is https://smba.trafficmanager.net/teams/).
    teams_service_url: str | None = Field(
        None, validation_alias=_env("POLICYBOT_TEAMS_SERVICE_URL", "teams_service_url")
    )
    #: Where the Bot Framework's token signing keys are published (OpenID metadata naming the JWKS), how long
    #: one fetch may take, how often the keys are refreshed, and how long a failed fetch is remembered.
    teams_openid_metadata_url: str = Field(
        "https://login.botframework.com/v1/.well-known/openidconfiguration",
        validation_alias=_env("POLICYBOT_TEAMS_OPENID_METADATA_URL", "teams_openid_metadata_url"),
    )
    teams_keys_timeout: float = Field(
        5.0, gt=0, le=60, validation_alias=_env("POLICYBOT_TEAMS_KEYS_TIMEOUT", "teams_keys_timeout")
    )
    teams_keys_refresh_seconds: float = Field(
        6 * 3600.0,
        gt=0,
        validation_alias=_env("POLICYBOT_TEAMS_KEYS_REFRESH_SECONDS", "teams_keys_refresh_seconds"),
    )
    teams_keys_retry_seconds: float = Field(
        30.0, gt=0, validation_alias=_env("POLICYBOT_TEAMS_KEYS_RETRY_SECONDS", "teams_keys_retry_seconds")
    )
    #: Where the bot gets its own OAuth token for replies and notices ("{url}/{tenant}/oauth2/v2.0/token"), and
    #: how long one fetch may take.
    teams_login_url: str = Field(
        "https://login.microsoftonline.com",
        validation_alias=_env("POLICYBOT_TEAMS_LOGIN_URL", "teams_login_url"),
    )
    teams_token_timeout: float = Field(
        10.0, gt=0, le=60, validation_alias=_env("POLICYBOT_TEAMS_TOKEN_TIMEOUT", "teams_token_timeout")
    )

    # --- reports -------------------------------------------------------------------------------------------
    webhook_url: str | None = Field(None, validation_alias=_env("POLICYBOT_WEBHOOK_URL", "webhook_url"))
    webhook_secret: SecretStr | None = Field(
        None, validation_alias=_env("POLICYBOT_WEBHOOK_SECRET", "webhook_secret")
    )
    case_retention_days: int = Field(
        6 * 365, ge=1, validation_alias=_env("POLICYBOT_CASE_RETENTION_DAYS", "case_retention_days")
    )
    case_retention_mode: Literal["anonymise", "delete"] = Field(
        "anonymise", validation_alias=_env("POLICYBOT_CASE_RETENTION_MODE", "case_retention_mode")
    )
    webhook_timeout: float = Field(
        10.0, gt=0, validation_alias=_env("POLICYBOT_WEBHOOK_TIMEOUT", "webhook_timeout")
    )
    #: How long a worker owns a notice it is delivering; a worker that dies frees it after this.
    delivery_lease_seconds: float = Field(
        120.0, gt=0, validation_alias=_env("POLICYBOT_DELIVERY_LEASE_SECONDS", "delivery_lease_seconds")
    )
    delivery_retry_base_seconds: float = Field(
        5.0,
        gt=0,
        validation_alias=_env("POLICYBOT_DELIVERY_RETRY_BASE_SECONDS", "delivery_retry_base_seconds"),
    )
    worker_poll_seconds: float = Field(
        2.0, gt=0, validation_alias=_env("POLICYBOT_WORKER_POLL_SECONDS", "worker_poll_seconds")
    )
    delivery_batch: int = Field(20, ge=1, validation_alias=_env("POLICYBOT_DELIVERY_BATCH", "delivery_batch"))

    # --- insights ------------------------------------------------------------------------------------------
    #: How long unanswered and not-helpful questions are kept for `policybot insights` (pseudonymised).
    insights_retention_days: int = Field(
        90, ge=1, validation_alias=_env("POLICYBOT_INSIGHTS_RETENTION_DAYS", "insights_retention_days")
    )

    @field_validator("slack_api_url")
    @classmethod
    def _trailing_slash(cls, value: str) -> str:
        return value if value.endswith("/") else value + "/"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = _config_file()
        if path.is_file():
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)

    @classmethod
    def load(cls, **overrides: Any) -> Settings:
        """Read the environment (and policybot.toml) once; keyword overrides win (used by the CLI and tests)."""
        return cls(**overrides)

    # --- derived ---------------------------------------------------------------------------------------------
    @property
    def index_dir(self) -> Path:
        return self.var_dir / "index"

    @property
    def sqlite_path(self) -> Path:
        return self.var_dir / "policybot.db"

    @property
    def effective_database_url(self) -> str:
        """The SQLAlchemy async URL: DATABASE_URL (normalised to an async driver) or SQLite under var/."""
        if not self.database_url:
            return f"sqlite+aiosqlite:///{self.sqlite_path.resolve()}"
        url = self.database_url
        for prefix in ("postgres://", "postgresql://", "postgresql+psycopg://", "postgresql+psycopg2://"):
            if url.startswith(prefix):
                return "postgresql+asyncpg://" + url[len(prefix) :]
        if url.startswith("sqlite://") and "+aiosqlite" not in url:
            return url.replace("sqlite://", "sqlite+aiosqlite://", 1)
        return url

    @property
    def slack_enabled(self) -> bool:
        return bool(self.slack_bot_token and self.slack_signing_secret)

    @property
    def teams_enabled(self) -> bool:
        return bool(self.microsoft_app_id) or self.teams_dev

    @property
    def console_enabled(self) -> bool:
        """The local web console: on when asked, otherwise on exactly when no chat channel is configured."""
        if self.console is not None:
            return self.console
        return not (self.slack_enabled or self.teams_enabled)

    @property
    def base_url(self) -> str:
        """Where people reach this server, for links in notifications."""
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host  # noqa: S104 - comparison only
        return f"http://{host}:{self.port}"

    def describe(self) -> dict[str, str]:
        """Every setting as text, with secrets shown only as set/unset, never their value."""
        out: dict[str, str] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                out[name] = "*** (set)" if value.get_secret_value() else "(empty)"
            elif value is None:
                out[name] = "(unset)"
            elif name == "database_url":
                out[name] = _redact_url(str(value))
            else:
                out[name] = str(value)
        return out


def _redact_url(url: str) -> str:
    """Hide a password inside a database URL."""
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    creds, host = rest.rsplit("@", 1)
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in creds else url
