"""Telegram without ``TELEGRAM_BOT_USERNAME``: the bot asks getMe at start, so group gifts keep their
Claim button; ``serve`` warns about a channel configured in part."""

from __future__ import annotations

import logging

import pytest
from pydantic import SecretStr

from nexustop.bootstrap import channel_gaps
from nexustop.settings import Settings
from tests.integration.telegram_harness import group_chat, person, telegram_app
from tests.integration.test_telegram_gifts import _announce


async def test_without_a_username_setting_the_bot_learns_it_from_getme(pg_url: str) -> None:
    async with telegram_app(pg_url, telegram_bot_username="") as h:
        assert h.state.calls_of("getMe")
        assert h.channel.config.bot_username == "NexusTopBot"
        alice, bobby = person(first_name="Alice"), person(first_name="Bobby")
        token = await _announce(h, alice, group_chat(), "/gift@NexusTopBot 500", bobby)  # has Claim
        assert token


async def test_a_refused_getme_is_a_warning_not_a_crash(
    pg_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        async with telegram_app(
            pg_url, telegram_bot_username="", telegram_token=SecretStr("999:not-our-token")
        ) as h:
            assert h.channel.config.bot_username == ""
    assert any("getMe failed" in record.getMessage() for record in caplog.records)


def test_a_channel_configured_in_part_is_named_with_what_is_missing() -> None:
    settings = Settings(
        telegram_token=SecretStr("123:abc"), whatsapp_phone_id="1", whatsapp_token=SecretStr("t")
    )
    gaps = channel_gaps(settings)
    assert gaps == [
        "WhatsApp is off: WHATSAPP_APP_SECRET not set (the other settings are)",
        "Telegram is off: TELEGRAM_WEBHOOK_SECRET not set (the other settings are)",
    ]
    full = Settings(whatsapp_phone_id="1", whatsapp_token=SecretStr("t"), whatsapp_app_secret=SecretStr("s"))
    assert channel_gaps(full) == [
        "WhatsApp: WHATSAPP_VERIFY_TOKEN is not set, so Meta cannot verify the webhook"
    ]
    assert channel_gaps(Settings()) == []
