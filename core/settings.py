"""Settings: a TOML file plus `VIGIE_`-prefixed environment overrides (`__` nests).

The file is the commune's public configuration; secrets (the bot token) normally come from
the environment. Every model forbids unknown keys, so a typo fails at start instead of being
silently ignored.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import tomllib
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

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
SUPPORTED_LANGUAGES = ("fr", "nl", "en")
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


Country = Literal["FR", "BE"]
Force = Literal["gendarmerie", "police_nationale", "police_municipale", "police_locale"]
# Which forces serve a commune of each country (core/i18n.py words them per language).
FORCES_BY_COUNTRY: dict[str, tuple[str, ...]] = {
    "FR": ("gendarmerie", "police_nationale", "police_municipale"),
    "BE": ("police_locale",),
}
# The languages offered to residents of each country: Dutch is for Flemish BINs.
LANGUAGES_BY_COUNTRY: dict[str, tuple[str, ...]] = {"FR": ("fr", "en"), "BE": ("fr", "nl", "en")}


class CommuneSettings(Section):
    """The commune and its scheme's profile: every text naming the force, its correspondent,
    the scheme or the emergency numbers follows country, force and scheme."""

    name: str = Field("Ma commune", min_length=1, max_length=100)
    language: Literal["fr", "nl", "en"] = "fr"
    timezone: str = "Europe/Paris"
    country: Country = "FR"
    force: Force = "gendarmerie"
    # The name people know ("Participation citoyenne", "Voisins solidaires", "PLP", "BIN");
    # unset: the usual name for the country, in each language.
    scheme: str | None = Field(None, min_length=1, max_length=80)
    # Signatories of the protocol, named in the charter and the paperwork.
    mayor: str | None = Field(None, min_length=1, max_length=100)
    unit: str | None = Field(None, min_length=1, max_length=150)
    # The data controller (default: the commune) and its contact; the DPO's contact.
    controller: str | None = Field(None, min_length=1, max_length=150)
    controller_contact: str | None = Field(None, min_length=1, max_length=200)
    dpo_contact: str | None = Field(None, min_length=1, max_length=200)
    # When the protocol was signed: renewed every three years (reminder three months before).
    protocol_signed_on: dt.date | None = None
    # Days the commune keeps its database backups (`bot.py backup`): told in the notice.
    backup_retention_days: int = Field(30, ge=1, le=3650)
    # The commune's own charter (Markdown files v<N>.<lang>.md); unset: <data folder>/charter
    # if it holds any, else the shipped charter of the country.
    charter_dir: Path | None = None
    # Belgium: the Community whose school holidays start the holiday-watch reminders;
    # unset: French for a French-speaking commune, Flemish for a Dutch-speaking one.
    school_community: Literal["French", "Flemish", "German"] | None = None

    @model_validator(mode="after")
    def _force_serves_country(self) -> CommuneSettings:
        allowed = FORCES_BY_COUNTRY[self.country]
        if self.force not in allowed:
            choices = " or ".join(f'"{force}"' for force in allowed)
            raise ValueError(f'commune.force = "{self.force}" does not exist with commune.country'
                             f' = "{self.country}": use commune.force = {choices}')
        if self.school_community is not None and self.country != "BE":
            raise ValueError("commune.school_community is for commune.country = \"BE\" only "
                             "(France: tips.school_zone)")
        return self

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (e.g. Europe/Paris, "
                             "Europe/Brussels)") from None
        return value


class SectorSettings(Section):
    name: str = Field(min_length=1, max_length=64)
    geojson: Path | None = None

    def area(self) -> str | None:
        """The GeoJSON text of the sector's area file (checked at start), if it has one."""
        return None if self.geojson is None else self.geojson.read_text(encoding="utf-8")


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


class BackupSettings(Section):
    """`vigie backup` without a path, and the copy taken before every migration."""

    # None: a "backups" folder beside the database.
    folder: Path | None = None
    # The newest copy of each of the last N days, and of each of the last M weeks; older
    # copies are deleted, so an erased person's data is gone from backups after that long.
    keep_daily: int = Field(7, ge=1, le=366)
    keep_weekly: int = Field(4, ge=0, le=520)


FindingAction = Literal["remove", "strike", "remind", "allow"]


class ModerationActions(Section):
    """What each finding of the screen (core/screening.py) does in a sector group:
    "remove" (deleted, the author told why in private and given their text back), "strike"
    (removed, and a strike on the charter's ladder), "remind" (the message stays; the group
    gets the emergency-numbers reminder), "allow" (nothing)."""

    plate: FindingAction = "remove"
    phone: FindingAction = "remove"
    email: FindingAction = "remove"
    named_person: FindingAction = "remove"
    insult: FindingAction = "strike"
    discrimination: FindingAction = "strike"
    emergency: FindingAction = "remind"


ExtraTermKey = Literal["insult", "discrimination", "emergency", "neutral"]


class ModerationSettings(Section):
    """The bot as the sector groups' first moderator; referents and officials decide."""

    enabled: bool = True
    actions: ModerationActions = ModerationActions()
    # Residents' photos, videos and documents: "hold" (out of the group at once, to the
    # sector's referents, who publish or decline), "remove", or "allow".
    media: Literal["allow", "hold", "remove"] = "hold"
    # Messages forwarded from outside: "label" (a reply: unverified information), "hold"
    # (out of the group, to the referents, like media), or "allow".
    forwarded: Literal["allow", "label", "hold"] = "label"
    # The ladder: strikes expire after strike_days; the second suspends (muted) for
    # suspension_days; the third proposes exclusion to the referents and the official.
    strike_days: int = Field(90, ge=1, le=3650)
    suspension_days: float = Field(7.0, gt=0, le=366)
    # Hours a removed text is kept for the referents' decision (and the author's copy
    # for a report) before it is erased anyway.
    keep_hours: float = Field(72.0, gt=0, le=24 * 30)
    # The emergency reminder is posted at most once per group in this many minutes.
    emergency_reminder_minutes: float = Field(10.0, gt=0)
    # The commune's own terms, added to locales/terms/*.txt (try them: `vigie screen`).
    extra_terms: dict[ExtraTermKey, list[str]] = {}


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
    moderation: ModerationSettings = ModerationSettings()
    outbox: OutboxSettings = OutboxSettings()
    backup: BackupSettings = BackupSettings()
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
    except IsADirectoryError:
        raise ConfigError([f"{path}: is a folder, not a TOML file"]) from None
    except PermissionError:
        raise ConfigError(
            [f"{path}: cannot be read by this user (check its owner and mode)"]
        ) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{path}: not valid TOML: {exc}"]) from None
    token = _toml_data.set(data)
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = [f"{path}: {_describe(err)}" for err in exc.errors()]
        # The whole-file checks run only once every key is valid: report them anyway.
        problems += [f"{path}: {line}" for line in _duplicate_sectors(data.get("sectors"))
                     if not any(line in known for known in problems)]
        raise ConfigError(problems) from None
    finally:
        _toml_data.reset(token)


def _duplicate_sectors(sectors: Any) -> list[str]:
    """The duplicate-sector problem of a raw `[[sectors]]` list, however broken the rest."""
    seen: set[str] = set()
    found: list[str] = []
    for sector in sectors if isinstance(sectors, list) else []:
        name = sector.get("name") if isinstance(sector, dict) else None
        if not isinstance(name, str):
            continue
        key = name.strip().casefold()
        if key in seen:
            found.append(f"duplicate sector name {name!r}")
        seen.add(key)
    return found


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
