"""Construction of the top-up provider from settings: the one place credentials are unwrapped."""

from __future__ import annotations

from nexustop.settings import Settings
from payments.vtpass import VTpassProvider


def build_topup_provider(settings: Settings) -> VTpassProvider:
    """The VTpass provider (or its sandbox) configured from ``settings``."""
    return VTpassProvider(
        base_url=settings.vtpass_base_url,
        api_key=settings.vtpass_api_key.get_secret_value(),
        public_key=settings.vtpass_public_key.get_secret_value(),
        secret_key=settings.vtpass_secret_key.get_secret_value(),
        timeout=settings.provider_timeout_seconds,
    )
