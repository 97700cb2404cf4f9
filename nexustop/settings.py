"""Runtime settings from the environment or a ``.env`` file (pydantic-settings)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

#: Where the embedded defaults keep their files (the SQLite database).
VAR_DIR = Path("var")


class Settings(BaseSettings):
    """Every knob NexusTop reads; secrets come only from the environment."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    database_url: str = f"sqlite+aiosqlite:///{VAR_DIR / 'nexustop.db'}"
    """SQLAlchemy async URL; PostgreSQL in production (``postgresql+asyncpg://…``)."""
    redis_url: str = "redis://127.0.0.1:6379/0"
    celery_task_always_eager: bool = False
    """True runs fulfilment in-process on the event loop instead of on Celery workers."""
    celery_visibility_timeout: float = 3600.0
    """Seconds before Redis redelivers an unacked task; must exceed the longest requery delay."""

    vtpass_base_url: str = "https://sandbox.vtpass.com"
    vtpass_api_key: SecretStr = SecretStr("sandbox-api-key")
    vtpass_public_key: SecretStr = SecretStr("PK_sandbox")
    vtpass_secret_key: SecretStr = SecretStr("SK_sandbox")
    provider_timeout_seconds: float = 15.0

    requery_delays_seconds: tuple[float, ...] = (2.0, 5.0, 15.0, 60.0, 300.0, 900.0)
    """Backoff between requeries of an unknown outcome; after the last one the order needs review."""
    reconcile_after_seconds: float = 120.0
    """An order in flight this long without progress is picked up again by the reconciler."""
    quote_ttl_seconds: float = 600.0

    whatsapp_phone_id: str = ""
    """The WhatsApp Business phone number id; the channel is mounted when it and the secrets are set."""
    whatsapp_token: SecretStr = SecretStr("")
    whatsapp_app_secret: SecretStr = SecretStr("")
    whatsapp_verify_token: SecretStr = SecretStr("")
    whatsapp_api_base: str = "https://graph.facebook.com"
    """Where every Graph API call goes; point it at ``nexustop sandbox`` (…/graph) to test locally."""
    whatsapp_api_version: str = "26.0"
    whatsapp_receipt_template: str = "nexustop_order_update"
    """Utility template (one body parameter: the receipt text) used outside the 24-hour window."""
    whatsapp_template_languages: dict[str, str] = {"en": "en", "fr": "fr", "pt": "pt_PT", "pcm": "en"}
    """Our language code → the template's language code at Meta."""
    whatsapp_poll_seconds: float = 1.0
    """How often the background loops look for receipts, due retries and stuck updates."""
    telegram_token: SecretStr = SecretStr("")
    """The bot's token from BotFather; the channel is mounted when it and the webhook secret are set."""
    telegram_webhook_secret: SecretStr = SecretStr("")
    """Telegram sends it in ``X-Telegram-Bot-Api-Secret-Token``; 1-256 of ``A-Z a-z 0-9 _ -``."""
    telegram_api_base: str = "https://api.telegram.org/bot"
    """Where Bot API calls go (the token follows it); ``nexustop sandbox`` serves one at …/telegram/bot."""
    telegram_bot_username: str = ""
    """The bot's @username without the @, to tell ``/cmd@ThisBot`` from commands for other bots."""
    telegram_poll_seconds: float = 1.0
    """How often the Telegram background loop looks for receipts, due retries and stuck updates."""
    paystack_base_url: str = "https://api.paystack.co"
    paystack_secret_key: SecretStr = SecretStr("")
    """``sk_test_…``/``sk_live_…``: API calls and the webhook HMAC; Paystack is enabled when it is set."""
    flutterwave_base_url: str = "https://api.flutterwave.com/v3"
    flutterwave_secret_key: SecretStr = SecretStr("")
    """``FLWSECK-…``; Flutterwave is enabled when it and the secret hash are set."""
    flutterwave_secret_hash: SecretStr = SecretStr("")
    """The dashboard's webhook Secret Hash: ``verif-hash`` equals it; it keys ``flutterwave-signature``."""
    mtn_base_url: str = "https://sandbox.momodeveloper.mtn.com"
    mtn_subscription_key: SecretStr = SecretStr("")
    """Collection ``Ocp-Apim-Subscription-Key``; MTN MoMo is enabled when it and the API user are set."""
    mtn_api_user: str = ""
    mtn_api_key: SecretStr = SecretStr("")
    mtn_target_environment: str = "sandbox"
    orange_base_url: str = "https://api.orange.com"
    orange_client_id: str = ""
    """Orange Developer app; Orange Money web payment is enabled when it and the client secret are set."""
    orange_client_secret: SecretStr = SecretStr("")
    orange_merchant_key: SecretStr = SecretStr("")
    orange_environment: str = "dev"
    """The API path segment: ``dev`` for the sandbox, the country's segment in production."""
    orange_currency_override: str = ""
    """Orange's dev environment wants ``OUV`` instead of ``XOF``; empty in production."""
    payment_timeout_seconds: float = 15.0
    funding_check_delays_seconds: tuple[float, ...] = (30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)
    """Waits between status checks of a payment whose webhook has not come (the last one repeats)."""
    funding_poll_seconds: float = 10.0
    """How often the in-process poller (demo, ``serve``) looks for due payment checks."""
    public_url: str = "http://127.0.0.1:8080"
    """Where this app is reachable; the demo's Graph sandbox posts its webhooks here."""
    webhook_strikes_per_minute: int = 30
    """Failing or unsigned ``/webhook/*`` requests a source may make in a minute before it is answered 429."""
    trusted_proxies: str = ""
    """Comma-separated addresses of reverse proxies whose ``X-Forwarded-For`` names the real client."""

    support_reply_minutes: int = 15
    """What users are told about when a person answers after a handoff; also the inbox's SLA target."""

    pin_pepper: SecretStr = SecretStr("")
    """HMAC key mixed into every transaction PIN before hashing; money out is off until it is set."""
    claim_ttl_hours: float = 72.0
    """Money sent to a number not yet with us is refunded if not claimed within this many hours."""
    payout_check_delays_seconds: tuple[float, ...] = (5.0, 15.0, 60.0, 300.0, 900.0, 3600.0)
    """Waits between status checks of a payout whose outcome is not final (the last one repeats)."""
    payout_poll_seconds: float = 5.0
    """How often the in-process poller (demo, ``serve`` without beat) sends and checks payouts."""

    identity_base_url: str = "https://api.dojah.io"
    """The identity verifier (a Dojah-shaped KYC API); ``nexustop sandbox`` serves one at …/identity."""
    identity_app_id: str = ""
    """Sent as ``AppId``; identity checks are enabled when it and the secret key are set."""
    identity_secret_key: SecretStr = SecretStr("")
    """Sent as ``Authorization`` (the key itself, no ``Bearer``)."""
    kyc_pepper: SecretStr = SecretStr("")
    """HMAC key of the stored BVN/NIN/ID hashes: long and random; changing it orphans every hash."""

    gift_ttl_hours: int = 48
    """Unclaimed gifts expire after this many hours; what is left in escrow goes back to the sender."""

    mtn_disbursement_subscription_key: SecretStr = SecretStr("")
    """Disbursement ``Ocp-Apim-Subscription-Key``; MoMo payouts are on when it and the API user are set."""
    mtn_disbursement_api_user: str = ""
    mtn_disbursement_api_key: SecretStr = SecretStr("")
    mtn_disbursement_countries: tuple[str, ...] = ("GH",)
    """MTN countries these disbursement credentials pay out in (MTN issues one set per country)."""

    demo: bool = False
    """Embedded defaults: SQLite, in-process tasks and sandbox, opening balance for new users."""

    def whatsapp_configured(self) -> bool:
        """True when the WhatsApp channel has a number, a token and an app secret."""
        return bool(
            self.whatsapp_phone_id
            and self.whatsapp_token.get_secret_value()
            and self.whatsapp_app_secret.get_secret_value()
        )

    def telegram_configured(self) -> bool:
        """True when the Telegram channel has a token and a webhook secret."""
        return bool(
            self.telegram_token.get_secret_value() and self.telegram_webhook_secret.get_secret_value()
        )

    def is_sqlite(self) -> bool:
        """True when the database is the embedded SQLite file."""
        return self.database_url.startswith("sqlite")


@cache
def get_settings() -> Settings:
    """Load settings once per process."""
    return Settings()
