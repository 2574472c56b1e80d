"""Settings: a TOML file plus `VIGIE_`-prefixed environment overrides (`__` nests).

The file is the commune's public configuration; secrets (the bot token) normally come from
the environment. Every model forbids unknown keys, so a typo fails at start instead of being
silently ignored.
"""

from __future__ import annotations

import os
import re
import tomllib
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal

from apscheduler.triggers.cron import CronTrigger
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

TELEGRAM_API = "https://api.telegram.org/bot"
SUPPORTED_LANGUAGES = ("fr", "en")
_SECRET_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


class ConfigError(Exception):
    """The configuration cannot be used; `problems` holds one human line per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WebhookSettings(Section):
    listen: str = "127.0.0.1"
    port: int = Field(8443, ge=1, le=65535)
    url_path: str = "telegram"
    public_url: str | None = None
    secret_token: SecretStr | None = None

    @field_validator("secret_token")
    @classmethod
    def _secret_token_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not _SECRET_TOKEN.match(value.get_secret_value()):
            raise ValueError("must be 1-256 characters among A-Z a-z 0-9 _ -")
        return value


class TelegramSettings(Section):
    token: SecretStr | None = None
    api_base_url: str = TELEGRAM_API
    file_base_url: str | None = None
    mode: Literal["polling", "webhook"] = "polling"
    webhook: WebhookSettings = WebhookSettings()

    @model_validator(mode="after")
    def _webhook_needs_url(self) -> TelegramSettings:
        hook = self.webhook
        if self.mode == "webhook" and (not hook.public_url or not hook.secret_token):
            raise ValueError("webhook mode needs telegram.webhook.public_url and secret_token")
        return self

    @property
    def files_url(self) -> str:
        """Where files are downloaded from: Telegram's `/file/bot` beside the API's `/bot`."""
        if self.file_base_url:
            return self.file_base_url
        root, _, _ = self.api_base_url.rstrip("/").rpartition("/")
        return f"{root}/file/bot"


class StorageSettings(Section):
    database: Path = Path("data/vigie.db")


class CommuneSettings(Section):
    name: str = Field("Ma commune", min_length=1, max_length=100)
    language: Literal["fr", "en"] = "fr"
    timezone: str = "Europe/Paris"


class SectorSettings(Section):
    name: str = Field(min_length=1, max_length=64)
    geojson: Path | None = None


class RolesSettings(Section):
    officials: list[int] = []
    admins: list[int] = []
    liaison_chat_id: int | None = None


class OutboxSettings(Section):
    """Pacing of everything the bot sends through the outbox (Telegram's published limits)."""

    messages_per_second: float = Field(30.0, gt=0)
    group_messages_per_minute: int = Field(20, gt=0)
    private_messages_per_second: float = Field(1.0, gt=0)
    # Keeps a little distance from each limit so network jitter never tips a send over it.
    safety_margin: float = Field(0.02, ge=0, le=0.5)
    max_attempts: int = Field(10, ge=1)
    base_backoff_seconds: float = Field(2.0, gt=0)
    max_backoff_seconds: float = Field(900.0, gt=0)
    poll_interval_seconds: float = Field(0.5, gt=0)
    # Delivered and failed rows hold copies of what was sent: forgotten after this long.
    keep_days: float = Field(7.0, gt=0)
    # Tests and benchmarks shrink Telegram's time windows by the same factor as the emulator.
    time_scale: float = Field(1.0, gt=0)


class EnrolmentSettings(Section):
    # "referent": a referent of the sector (or an official) approves each join request;
    # "auto": anyone who accepted the charter and chose that sector is let in.
    approval: Literal["referent", "auto"] = "referent"


class ReportsSettings(Section):
    # "triage": the sector's referents see each report first (Transmettre / Classer);
    # "direct": reports go straight to the gendarmerie liaison and the officials.
    relay_mode: Literal["triage", "direct"] = "triage"
    # Minutes a report waits for a referent before it is relayed anyway, marked untriaged.
    triage_timeout: float = Field(15.0, gt=0)
    max_per_hour: int = Field(3, ge=1)
    # Minutes within which reports of one sector and category may be grouped as one event.
    similar_window: float = Field(30.0, gt=0)
    description_max: int = Field(1000, ge=100, le=3000)


class PrivacySettings(Section):
    # Days after which a report's contents (description, place, photo, plate) and its link
    # to the reporter are erased; only anonymous counts remain.
    retention_days: int = Field(90, ge=1, le=3650)
    # Days the audit log (/journal: who did what, ids only) is kept before the purge job
    # deletes its entries; long enough to answer a question about last year's decisions.
    audit_retention_days: int = Field(365, ge=1, le=3650)


_CLOCK = re.compile(r"^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d$")


class TipsSettings(Section):
    """Prevention tips posted in every linked sector group on a schedule."""

    # Cron expressions (minute hour day-of-month month day-of-week), in commune.timezone.
    schedule: list[str] = ["0 18 * * tue", "0 11 * * sat"]
    # No tip is posted between these times (HH:MM-HH:MM); a run falling inside waits.
    quiet_hours: str | None = "21:00-08:00"
    # A run missed while the bot was stopped is posted on restart if this recent.
    grace_hours: float = Field(6.0, ge=0, le=72)
    # A group does not get the same tip again within this many days, if others are left.
    repeat_after_days: int = Field(90, ge=1)
    # French school-holiday zone ("A", "B" or "C"): "Opération Tranquillité Vacances"
    # reminders a few weeks before each holiday. None: no holiday reminders (Belgium…).
    school_zone: Literal["A", "B", "C"] | None = None
    holiday_reminder_weeks: int = Field(3, ge=1, le=8)
    # A seasonal campaign takes a run's place at most this often per group.
    campaign_every_days: int = Field(7, ge=1)

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: list[str]) -> list[str]:
        for expression in value:
            try:
                CronTrigger.from_crontab(expression)
            except ValueError:
                raise ValueError(f"{expression!r} is not a cron expression (5 fields: "
                                 "minute hour day month weekday)") from None
        return value

    @field_validator("quiet_hours")
    @classmethod
    def _clock_range(cls, value: str | None) -> str | None:
        if value is not None and not _CLOCK.match(value):
            raise ValueError("must look like 21:00-08:00")
        return value


class LoggingSettings(Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["auto", "json", "console"] = "auto"
    file: Path | None = None


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="VIGIE_", env_nested_delimiter="__", extra="forbid", frozen=True
    )

    telegram: TelegramSettings = TelegramSettings()
    storage: StorageSettings = StorageSettings()
    commune: CommuneSettings = CommuneSettings()
    sectors: list[SectorSettings] = []
    roles: RolesSettings = RolesSettings()
    enrolment: EnrolmentSettings = EnrolmentSettings()
    reports: ReportsSettings = ReportsSettings()
    privacy: PrivacySettings = PrivacySettings()
    tips: TipsSettings = TipsSettings()
    outbox: OutboxSettings = OutboxSettings()
    logging: LoggingSettings = LoggingSettings()

    @model_validator(mode="after")
    def _unique_sectors(self) -> Settings:
        seen: set[str] = set()
        for sector in self.sectors:
            key = sector.name.strip().casefold()
            if key in seen:
                raise ValueError(f"duplicate sector name {sector.name!r}")
            seen.add(key)
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Priority: explicit arguments, then the environment, then the TOML file.
        return init_settings, env_settings, _TomlData(settings_cls)


_toml_data: ContextVar[dict[str, Any]] = ContextVar("toml_data")


class _TomlData(PydanticBaseSettingsSource):
    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return _toml_data.get({}).get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(_toml_data.get({}))


def config_path(cli_value: str | None) -> Path:
    return Path(cli_value or os.environ.get("VIGIE_CONFIG") or "config.toml")


def load_settings(path: Path, **overrides: Any) -> Settings:
    """Read and validate the configuration; raise ConfigError with one line per problem."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            [f"{path}: no such file (copy config.example.toml to config.toml and edit it)"]
        ) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{path}: not valid TOML: {exc}"]) from None
    token = _toml_data.set(data)
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError([f"{path}: {_describe(err)}" for err in exc.errors()]) from None
    finally:
        _toml_data.reset(token)


def _describe(error: Any) -> str:
    key = ".".join(
        f"[{part}]" if isinstance(part, int) else str(part) for part in error["loc"]
    ).replace(".[", "[")
    if error["type"] == "extra_forbidden":
        message = "unknown key"
    elif error["type"] == "missing":
        message = "required key is missing"
    else:
        message = error["msg"].removeprefix("Value error, ")
    return f"{key}: {message}" if key else message
