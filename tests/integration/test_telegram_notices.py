"""The Telegram channel's own doings over the real webhook: deleting a message that held a secret,
notices in the user's language, the command menu in every reply language."""

from __future__ import annotations

import pytest

from conversations.messages import Reply
from conversations.turn import Turn
from nexustop.cli import set_telegram_webhook
from tests.integration.telegram_harness import group_chat, person, telegram_app, telegram_settings
from tests.integration.test_telegram import _set_up_in_nigeria

PIN = "4821"


async def test_a_reply_that_forgets_the_inbound_deletes_the_users_message(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with telegram_app(pg_url) as h:
        answer = h.app.engine._respond

        async def pin_aware(turn: Turn) -> list[Reply]:
            # Stands in for the PIN question: the engine marks the answer to a secret.
            if turn.message.text == PIN:
                return [Reply("PIN accepted.", forget_inbound=True)]
            return await answer(turn)

        monkeypatch.setattr(h.app.engine, "_respond", pin_aware)
        user = person()
        update = h.text_update(user, PIN)
        assert await h.post(update) == 200
        await h.settle()
        deletions = [c for c in h.state.calls if c.method == "deleteMessage"]
        assert [(str(c.params["chat_id"]), int(c.params["message_id"]), c.status) for c in deletions] == [
            (str(user["id"]), update["message"]["message_id"], 200)
        ]
        assert h.texts_to(user["id"]) == ["PIN accepted."]
        sent = next(c for c in h.state.calls if c.method == "sendMessage")
        assert deletions[0].at <= sent.at, "the secret leaves the chat first"

        await h.say(user, "/help")  # other answers leave the user's messages alone
        assert len([c for c in h.state.calls if c.method == "deleteMessage"]) == 1


async def test_notices_are_in_the_users_language(pg_url: str) -> None:
    async with telegram_app(pg_url) as h:
        group = group_chat()
        amadou = person(first_name="Amadou", language="fr")
        await h.say(amadou, "/balance@NexusTopBot", group)
        assert h.texts_to(group["id"])[-1] == "Faisons cela dans une discussion privée avec moi."

        # A language chosen in the chat wins over the app's.
        ada = person(first_name="Ada", language="en")
        await _set_up_in_nigeria(h, ada)
        await h.say(ada, "français")
        assert "français" in h.texts_to(ada["id"])[-1]
        await h.say(ada, "/history@NexusTopBot", group)
        assert h.texts_to(group["id"])[-1] == "Faisons cela dans une discussion privée avec moi."
        bola = person(first_name="Bola", language="en")
        await h.say(bola, "/help@NexusTopBot", group)
        await h.say(bola, "/balance@NexusTopBot", group)
        assert h.texts_to(group["id"])[-1] == "Let's do that in a private chat with me."


async def test_the_command_menu_is_registered_in_every_reply_language(pg_url: str) -> None:
    async with telegram_app(pg_url) as h:
        settings = telegram_settings(pg_url, h.bot_api.api_base)
        assert await set_telegram_webhook(settings, "https://bot.example.com/webhook/telegram") == 0
        assert set(h.state.localized_commands) == {"en", "fr", "pt"}
        for commands in (h.state.commands, *h.state.localized_commands.values()):
            assert [c["command"] for c in commands] == [
                "start", "help", "balance", "history", "cancel", "language", "privacy",
            ]  # fmt: skip
            assert all(c["description"].strip() for c in commands)
