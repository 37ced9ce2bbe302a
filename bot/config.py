"""Settings: every knob comes from an environment variable, read once at start (pydantic-settings)."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """All configuration. Field names map to upper-case environment variables (see README)."""

    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    # storage
    mongodb_uri: str | None = None
    lapor_db: str = "lapor"
    lapor_data_dir: Path = Path("./var")
    lapor_message_retention_days: int = Field(365, ge=1)
    lapor_db_connect_attempts: int = Field(6, ge=1, le=100)  # at start, with back-off 0.5 s doubling to 10 s
    # retention of personal data (docs/privacy.md)
    lapor_conversation_retention_days: int = Field(60, ge=1)
    lapor_handoff_retention_days: int = Field(180, ge=1)
    lapor_unattached_file_retention_days: int = Field(45, ge=1)
    lapor_notification_retention_days: int = Field(365, ge=1)
    lapor_reporter_retention_days: int = Field(730, ge=1)
    lapor_contact_retention_days: int = Field(730, ge=1)
    # http
    lapor_http_host: str = "127.0.0.1"
    lapor_http_port: int = Field(8080, ge=0, le=65535)
    lapor_staff_token: str | None = None
    lapor_public_url: str | None = None
    lapor_secret_key: str | None = None  # signs web chat cookies; derived from data dir when absent
    # behaviour
    lapor_default_language: Literal["id", "en"] = "id"
    lapor_max_reports_per_day: int = Field(5, ge=1)
    lapor_max_messages_per_minute: int = Field(20, ge=1)
    lapor_max_text_chars: int = Field(2000, ge=100)
    lapor_draft_ttl_days: int = Field(30, ge=1)
    lapor_handoff_idle_minutes: float = Field(30.0, gt=0)  # a live conversation quiet this long goes back to the bot
    lapor_max_lookups_per_hour: int = Field(10, ge=1)  # typed tracking IDs, per contact
    lapor_max_lookups_per_address_per_hour: int = Field(30, ge=1)  # same, per source address (web chat)
    lapor_inbox_recovery_s: float = Field(30.0, gt=0, le=3600)  # webhook inboxes: checked this often; an entry is
    # taken over when its process has not finished it after twice this (channels/inbox.py)
    # understanding
    rasa_url: str | None = None
    rasa_timeout_s: float = Field(3.0, gt=0)
    rasa_port: int = Field(5005, ge=0, le=65535)
    rasa_venv: Path = Path(".venv-rasa")
    # telegram
    telegram_bot_token: str | None = None
    telegram_api_base_url: str = "https://api.telegram.org/bot"
    telegram_mode: Literal["polling", "webhook"] = "polling"
    telegram_webhook_secret: str | None = None
    telegram_rate_per_s: float = Field(30.0, gt=0)
    # whatsapp
    whatsapp_access_token: str | None = None
    whatsapp_app_secret: str | None = None
    whatsapp_verify_token: str | None = None
    whatsapp_phone_number_id: str | None = None
    whatsapp_api_base_url: str = "https://graph.facebook.com/v21.0"
    whatsapp_notify_template: str = "lapor_status_update"
    whatsapp_rate_per_s: float = Field(80.0, gt=0)
    # sms
    sms_account_sid: str | None = None
    sms_auth_token: str | None = None
    sms_from: str | None = None
    sms_api_base_url: str = "https://api.twilio.com/2010-04-01"
    sms_public_url: str | None = None
    sms_rate_per_s: float = Field(10.0, gt=0)

    @field_validator("lapor_staff_token")
    @classmethod
    def _token_long_enough(cls, v: str | None) -> str | None:
        if v is not None and len(v) < 16:
            raise ValueError("must be at least 16 characters")
        return v

    @field_validator("telegram_webhook_secret")
    @classmethod
    def _secret_charset(cls, v: str | None) -> str | None:
        import re

        if v is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", v):
            raise ValueError("must be 1-256 characters of A-Z a-z 0-9 _ -")
        return v

    @property
    def db_dir(self) -> Path:
        return self.lapor_data_dir / "db"

    @property
    def telegram_enabled(self) -> bool:
        return bool(self.telegram_bot_token)

    @property
    def telegram_webhook_url(self) -> str | None:
        """Where Telegram should post updates in webhook mode: ``$LAPOR_PUBLIC_URL/webhooks/telegram``."""
        return f"{self.lapor_public_url.rstrip('/')}/webhooks/telegram" if self.lapor_public_url else None

    @property
    def whatsapp_enabled(self) -> bool:
        return bool(self.whatsapp_access_token and self.whatsapp_app_secret and self.whatsapp_phone_number_id)

    @property
    def sms_enabled(self) -> bool:
        return bool(self.sms_auth_token)


def load_settings(**overrides) -> Settings:
    """Build Settings or exit(2) with one readable line per bad variable (no traceback)."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        for err in exc.errors():
            name = str(err["loc"][0]).upper() if err["loc"] else "?"
            print(f"laporbot: invalid setting {name}: {err['msg']}", file=sys.stderr)
        raise SystemExit(2) from None
