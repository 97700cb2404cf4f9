"""Money out in chat, end to end: PINs, P2P, claim links, bank payouts, KYC upgrades, PIN resets.

Every dialogue runs through the real engine on PostgreSQL with the identity sandbox (Dojah-shaped)
and the Paystack sandbox for account lookups and payouts, and checks the ledger after it.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import pytest_asyncio
from sqlalchemy import select

from conversations import after_verify
from conversations.engine import REDACTED, Engine
from conversations.i18n import display_phone
from domain import ledger
from domain.database import Database
from domain.models import Conversation, Identity, Message, MoneyTransfer, Staff, utcnow
from domain.ports import PayoutCheck, PayoutStatus
from domain.transfers import TransferService, TransferState
from nexustop.queues import InProcessQueue
from payments.identity import DojahIdentityVerifier
from payments.paystack import PaystackGateway
from payments.vtpass import VTpassProvider
from sandbox.identity import APP_ID, SECRET_KEY, start_identity_sandbox
from sandbox.paystack import start_paystack_sandbox
from sandbox.vtpass import start_vtpass_sandbox
from tests.integration import dialogue
from tests.integration.dialogue import FAST_REQUERIES, Chat

PEPPER = b"chat-test-pepper"
KYC_PEPPER = "chat-test-kyc-pepper"


@dataclass
class Rig:
    engine: Engine
    queue: InProcessQueue
    service: TransferService
    db: Database

    def chat(self, **kwargs: str | None) -> Chat:
        return Chat(self.engine, self.queue, **kwargs)  # type: ignore[arg-type]


@pytest_asyncio.fixture(scope="module")
async def rig(db: Database) -> AsyncIterator[Rig]:
    vtpass, vtpass_url = await start_vtpass_sandbox()
    provider = VTpassProvider(vtpass_url, "sandbox-api-key", "PK_sandbox", "SK_sandbox", timeout=2.0)
    queue = InProcessQueue(db, provider, FAST_REQUERIES)
    paystack, paystack_url = await start_paystack_sandbox()
    registry, registry_url = await start_identity_sandbox()
    gateway = PaystackGateway(paystack_url, "sk_test_sandbox", timeout=5.0)
    verifier = DojahIdentityVerifier(registry_url, APP_ID, SECRET_KEY, timeout=5.0)
    service = TransferService(PEPPER, gateways={"paystack": gateway}, check_delays=(0.0,))
    engine = Engine(db, queue, demo=True, transfers=service, identity=verifier, kyc_pepper=KYC_PEPPER)
    yield Rig(engine, queue, service, db)
    await queue.drain(5)
    await queue.close()
    for client in (gateway, verifier, provider):
        await client.close()
    for runner in (paystack, registry, vtpass):
        await runner.cleanup()


# ---- helpers --------------------------------------------------------------------------------


def ng_phone() -> str:
    """A fresh, valid Nigerian MTN number in E.164."""
    return f"+234803{random.randrange(10**7):07d}"


def local(e164: str) -> str:
    """A Nigerian number as people type it: 0803 123 4567."""
    digits = "0" + e164.removeprefix("+234")
    return f"{digits[:4]} {digits[4:7]} {digits[7:]}"


def sn_phone() -> tuple[str, str]:
    """A fresh Senegalese Orange number: E.164, and as people type it (77 123 45 67)."""
    digits = f"77{random.randrange(10**7):07d}"
    return f"+221{digits}", f"{digits[:2]} {digits[2:5]} {digits[5:7]} {digits[7:]}"


def bvn() -> str:
    """A BVN the identity sandbox matches (not ending 000, 888 or 999) and no other test uses."""
    return f"22{random.randrange(10**8):08d}1"


async def verified(chat: Chat, number: str | None = None) -> str:
    """Take a Nigerian chat user to KYC level 1 with a BVN, through the chat; return the BVN."""
    number = number or bvn()
    await chat.say("hello")
    assert "level 1" in await verify_now(chat, number)
    return number


async def verify_now(chat: Chat, number: str) -> str:
    """Say "verify", pick the BVN and send ``number``; return the replies to the number."""
    assert "Which number" in await chat.say("verify")
    assert "11-digit BVN" in await chat.press("idkind:bvn")
    return await chat.say(number)


async def top_up(rig: Rig, chat: Chat, minor: int) -> None:
    """Add naira to a chat user's wallet from the promo account (as a funded wallet would have)."""
    owner = await user_id(rig, chat)
    async with rig.db.transaction() as session:
        promo = await ledger.open_system_account(session, "promo", "NGN")
        mine = await ledger.open_wallet(session, owner, "NGN")
        await ledger.create_transfer(
            session, ledger.NewTransfer(f"test-topup:{owner}", promo, mine, minor, "NGN", "promo")
        )


async def wallet(rig: Rig, chat: Chat, currency: str = "NGN") -> int:
    return (await chat.wallet(rig.db, currency)).posted


async def user_id(rig: Rig, chat: Chat) -> int:
    async with rig.db.transaction() as session:
        found = await session.scalar(select(Identity.user_id).where(Identity.channel_user_id == chat.user))
        assert found is not None
        return found


async def transfers_of(rig: Rig, chat: Chat) -> list[MoneyTransfer]:
    sender = await user_id(rig, chat)
    async with rig.db.transaction() as session:
        rows = await session.scalars(select(MoneyTransfer).where(MoneyTransfer.sender_user_id == sender))
        return list(rows.all())


async def slots_of(rig: Rig, chat: Chat) -> dict[str, object]:
    async with rig.db.transaction() as session:
        slots = await session.scalar(select(Conversation.slots).where(Conversation.chat_id == chat.user))
        return dict(slots or {})


async def backdate_refused_send(rig: Rig, chat: Chat, age: timedelta) -> None:
    """Make the send kept for after verifying look refused ``age`` ago."""
    async with rig.db.transaction() as session:
        conversation = await session.scalar(select(Conversation).where(Conversation.chat_id == chat.user))
        assert conversation is not None and conversation.state == after_verify.STATE
        kept = dict(conversation.slots[after_verify.SLOT])
        kept["at"] = (utcnow() - age).isoformat()
        conversation.slots = {after_verify.SLOT: kept}


async def inbound_lines(rig: Rig, *chats: Chat) -> list[str]:
    """Every inbound transcript line the chats stored."""
    async with rig.db.transaction() as session:
        rows = await session.scalars(
            select(Message.body)
            .join(Conversation, Conversation.id == Message.conversation_id)
            .where(Conversation.chat_id.in_([c.user for c in chats]), Message.direction == "in")
        )
        return list(rows.all())


async def assert_no_secrets(rig: Rig, secrets: list[str], *chats: Chat) -> None:
    lines = await inbound_lines(rig, *chats)
    assert REDACTED in lines
    for line in lines:
        for secret in secrets:
            assert not re.search(rf"(?<!\d){secret}(?!\d)", line), line


async def assert_ledger_balanced(rig: Rig) -> None:
    await dialogue.assert_ledger_balanced(rig.db)


# ---- P2P with a first PIN, in three languages -----------------------------------------------


async def test_p2p_in_english_sets_a_pin_then_sends(rig: Rig) -> None:
    friend_phone = ng_phone()
    friend = rig.chat(country="NG", phone=friend_phone)
    await friend.say("hi")
    sender = rig.chat(country="NG", phone=ng_phone())
    number = await verified(sender)
    quote = await sender.say(f"send 2000 to {local(friend_phone)}")
    assert "Send ₦2,000.00 to" in quote and "Your balance: ₦10,000.00" in quote
    text = await sender.press(sender.last_choice("sendok:"))
    assert "choose a transaction PIN" in text
    assert "same PIN again" in await sender.say("4826")
    assert "4826" not in json.dumps(await slots_of(rig, sender))  # only its argon2 hash waits there
    assert "different" in await sender.say("4827")  # mismatch: start again
    assert "too easy to guess" in await sender.say("1234")
    assert "4 to 6 digits" in await sender.say("48a6")
    assert "same PIN again" in await sender.say("4826")
    text = await sender.say("4826")
    assert "PIN is saved" in text and "✅ Sent ₦2,000.00" in text and "₦8,000.00" in text
    assert sender.transcript[-1].forget_inbound
    assert await wallet(rig, sender) == 800_000
    assert await wallet(rig, friend) == 1_200_000
    news = await friend.receipts()
    assert "sent you ₦2,000.00" in news and "₦12,000.00" in news
    assert "sent ₦2,000.00" in await sender.say("history")
    assert "received ₦2,000.00 from" in await friend.say("history")
    await assert_no_secrets(rig, ["4826", "4827", number], sender)
    await assert_ledger_balanced(rig)


async def test_p2p_in_french_in_senegal(rig: Rig) -> None:
    friend_phone, typed = sn_phone()
    friend = rig.chat(country="SN", language="fr", phone=friend_phone)
    await friend.say("bonjour")
    sender = rig.chat(country="SN", language="fr", phone=sn_phone()[0])
    await sender.say("bonjour")
    await sender.say("vérifier mon identité")
    card = f"{random.randrange(10**12):012d}7"
    assert "1 000 000 F CFA" in await sender.say(card)  # the daily limit of an identified client
    quote = await sender.say(f"envoyer 5000 à {typed}")
    assert "5 000 F CFA" in quote and "10 000 F CFA" in quote
    await sender.press(sender.last_choice("sendok:"))
    await sender.say("3691")
    text = await sender.say("3691")
    assert "5 000 F CFA" in text and "✅" in text
    assert await wallet(rig, sender, "XOF") == 5_000
    assert await wallet(rig, friend, "XOF") == 15_000
    await assert_no_secrets(rig, ["3691", card], sender)
    await assert_ledger_balanced(rig)


async def test_p2p_in_pidgin(rig: Rig) -> None:
    friend_phone = ng_phone()
    friend = rig.chat(country="NG", phone=friend_phone)
    await friend.say("how far")
    sender = rig.chat(country="NG", phone=ng_phone())
    await verified(sender)
    quote = await sender.say(f"abeg send 2k give {local(friend_phone)}")
    assert "Send ₦2,000.00" in quote
    await sender.say("oya")  # a typed yes confirms too
    await sender.say("7391")
    assert "✅ Sent ₦2,000.00" in await sender.say("7391")
    assert await wallet(rig, friend) == 1_200_000
    await assert_ledger_balanced(rig)


# ---- PIN: lockout, double confirm, bad input -------------------------------------------------


async def test_three_wrong_pins_lock_money_out_and_move_nothing(rig: Rig) -> None:
    friend_phone = ng_phone()
    await rig.chat(country="NG", phone=friend_phone).say("hi")
    sender = rig.chat(country="NG", phone=ng_phone())
    await verified(sender)
    await sender.say(f"send 1000 to {local(friend_phone)}")
    await sender.press(sender.last_choice("sendok:"))
    await sender.say("5813")
    await sender.say("5813")  # PIN set, and the first transfer goes
    assert await wallet(rig, sender) == 900_000
    await sender.say(f"send 1000 to {local(friend_phone)}")
    await sender.press(sender.last_choice("sendok:"))
    assert "Enter your transaction PIN" in sender.transcript[-1].text
    assert "4 to 6 digits" in await sender.say("abcd")  # letters are not a try
    assert "2 tries left" in await sender.say("1111")
    assert "1 try left" in await sender.say("2222")
    text = await sender.say("3333")
    assert "locked until" in text and "forgot PIN" in text
    assert await wallet(rig, sender) == 900_000
    await sender.say(f"send 1000 to {local(friend_phone)}")
    text = await sender.press(sender.last_choice("sendok:"))
    assert "locked until" in text and "PIN to confirm" not in text  # not even asked
    assert await wallet(rig, sender) == 900_000
    await assert_no_secrets(rig, ["5813", "1111", "2222", "3333"], sender)
    await assert_ledger_balanced(rig)


async def test_a_double_pressed_confirm_sends_once(rig: Rig) -> None:
    friend_phone = ng_phone()
    await rig.chat(country="NG", phone=friend_phone).say("hi")
    sender = rig.chat(country="NG", phone=ng_phone())
    await verified(sender)
    await sender.say(f"send 1500 to {friend_phone}")
    confirm = sender.last_choice("sendok:")
    await sender.press(confirm)
    await sender.press(confirm)
    await sender.say("6284")
    await sender.say("6284")
    assert await wallet(rig, sender) == 850_000
    assert "already made" in await sender.press(confirm)
    await sender.say("6284")  # the PIN again, out of turn
    assert await wallet(rig, sender) == 850_000
    assert len(await transfers_of(rig, sender)) == 1
    await assert_ledger_balanced(rig)


async def test_stale_quotes_and_bad_input_move_nothing(rig: Rig) -> None:
    sender = rig.chat(country="NG", phone=ng_phone())
    await verified(sender)
    text = await sender.say(f"send 50,000,000 to {local(ng_phone())}")
    assert "don't have enough money" in text and "How much" in text
    await sender.say("cancel")
    assert "How much" in await sender.say("send money")
    assert "Who should I send ₦500.00 to?" in await sender.say("500")
    assert "Which bank" in await sender.say("0123456789")
    text = await sender.say("Wakanda Savings")
    assert "don't know that bank" in text and "GTBank" in text
    quote = await sender.say("GTBank")
    assert "Send ₦500.00 to" in quote and "GTBank ******6789" in quote
    rig.engine.quote_ttl_seconds = -1.0  # the quote is older than its lifetime
    try:
        assert "expired" in await sender.press(sender.last_choice("sendok:"))
    finally:
        rig.engine.quote_ttl_seconds = 600.0
    assert "can't send money to yourself" in await sender.say(f"send 100 to {sender.phone}")
    assert await wallet(rig, sender) == 1_000_000
    assert await transfers_of(rig, sender) == []
    await assert_ledger_balanced(rig)


async def test_unverified_users_are_sent_to_verify_first(rig: Rig) -> None:
    sender = rig.chat(country="NG", phone=ng_phone())
    await sender.say("hi")
    text = await sender.say(f"send 1000 to {local(ng_phone())}")
    assert "check who you are" in text
    assert sender.last_choice("idverify")
    assert "Which number" in await sender.press("idverify")


# ---- a send refused until the user verifies --------------------------------------------------


async def test_a_send_refused_until_verified_resumes_after_verifying(rig: Rig) -> None:
    friend_phone = ng_phone()
    friend = rig.chat(country="NG", phone=friend_phone)
    await friend.say("hi")
    sender = rig.chat(country="NG", phone=ng_phone())
    await sender.say("hi")
    text = await sender.say(f"send 2000 to {local(friend_phone)}")
    assert "check who you are" in text and "Send ₦" not in text
    kept = (await slots_of(rig, sender))[after_verify.SLOT]
    assert isinstance(kept, dict) and kept["send"] == {"amount": 200_000, "phone": friend_phone}
    assert "Which number" in await sender.press(sender.last_choice("idverify"))
    assert "Which number" in await sender.say("verify")  # starting over keeps the send
    assert "11-digit BVN" in await sender.press("idkind:bvn")
    number = bvn()
    text = await sender.say(number)
    assert "✅ Verified! You're now at level 1" in text and "₦50,000.00 a day" in text
    quote = text[text.index("₦50,000.00 a day") :]
    assert "Send ₦2,000.00 to" in quote and display_phone(friend_phone) in quote
    assert "Your balance: ₦10,000.00" in quote
    assert "choose a transaction PIN" in await sender.press(sender.last_choice("sendok:"))
    assert "same PIN again" in await sender.say("4826")
    text = await sender.say("4826")
    assert "PIN is saved" in text and "✅ Sent ₦2,000.00" in text and "₦8,000.00" in text
    assert await wallet(rig, sender) == 800_000
    assert await wallet(rig, friend) == 1_200_000
    (transfer,) = await transfers_of(rig, sender)
    assert transfer.amount == 200_000 and transfer.state == TransferState.COMPLETED
    await assert_no_secrets(rig, ["4826", number], sender)
    await assert_ledger_balanced(rig)


async def test_a_resumed_send_meets_the_limits_of_the_new_level(rig: Rig) -> None:
    chat = rig.chat(country="NG", phone=ng_phone())
    await chat.say("hi")
    await top_up(rig, chat, 60_000_00)
    assert "check who you are" in await chat.say("send 55000 to GTBank 0123456789")
    text = await chat.say(f"my bvn is {bvn()}")  # typed, not the Verify me button
    assert "level 1" in text and "₦50,000.00 left at your level" in text and "How much" in text
    quote = await chat.say("4000")  # the bank account was kept
    assert re.search(r"Send ₦4,000\.00 to [A-Z]+ [A-Z]+ \(GTBank \*{6}6789\)\?", quote), quote
    assert await transfers_of(rig, chat) == []


async def test_a_refused_send_is_dropped_when_the_user_does_something_else(rig: Rig) -> None:
    for other in ("cancel", "buy 500 airtime for 08031234567", "balance", "send 300"):
        chat = rig.chat(country="NG", phone=ng_phone())
        await chat.say("hi")
        assert "check who you are" in await chat.say(f"send 2000 to {local(ng_phone())}")
        await chat.say(other)
        text = await verify_now(chat, bvn())
        assert "level 1" in text and "Send ₦" not in text and "send ₦" not in text, other
        assert await slots_of(rig, chat) == {}, other
        assert "There is nothing to confirm" in await chat.say("yes")
        assert await transfers_of(rig, chat) == []


async def test_a_refused_send_is_dropped_when_verifying_fails(rig: Rig) -> None:
    chat = rig.chat(country="NG", phone=ng_phone())
    await chat.say("hi")
    assert "check who you are" in await chat.say(f"send 2000 to {local(ng_phone())}")
    await chat.press("idverify")
    await chat.press("idkind:bvn")
    assert "couldn't find" in await chat.say("22123456000")
    assert after_verify.SLOT in await slots_of(rig, chat)  # a wrong number may be tried again
    await chat.say("221234")
    assert "stop here" in await chat.say("22123")
    assert await slots_of(rig, chat) == {}
    text = await verify_now(chat, bvn())
    assert "level 1" in text and "Send ₦" not in text
    assert await transfers_of(rig, chat) == []


async def test_a_stale_refused_send_is_not_resumed(rig: Rig) -> None:
    chat = rig.chat(country="NG", phone=ng_phone())
    await chat.say("hi")
    assert "check who you are" in await chat.say(f"send 2000 to {local(ng_phone())}")
    await backdate_refused_send(rig, chat, after_verify.LIFETIME + timedelta(minutes=1))
    await chat.press("idverify")
    await chat.press("idkind:bvn")
    text = await chat.say(bvn())
    assert "level 1" in text and "Send ₦" not in text
    assert await slots_of(rig, chat) == {}
    assert await transfers_of(rig, chat) == []


# ---- claimable links -------------------------------------------------------------------------


async def test_a_claim_link_pays_only_the_number_it_was_sent_to(rig: Rig) -> None:
    newcomer_phone = ng_phone()
    sender = rig.chat(country="NG", phone=ng_phone())
    await verified(sender)
    quote = await sender.say(f"send 3000 to {local(newcomer_phone)}")
    assert "not on NexusTop yet" in quote and "72 hours" in quote
    await sender.press(sender.last_choice("sendok:"))
    await sender.say("9173")
    text = await sender.say("9173")
    token = re.search(r"claim (m_[\w-]+)", text)
    assert token is not None and sender.transcript[-1].link == f"start:{token.group(1)}"
    assert (await sender.wallet(rig.db, "NGN")).available == 700_000  # reserved until claimed

    stranger = rig.chat(country="NG", phone=ng_phone())
    assert "another number" in await stranger.say(f"claim {token.group(1)}")
    telegram_user = rig.chat()  # no phone, no country yet: a Telegram user opening the link
    text = await telegram_user.say(f"/start {token.group(1)}")
    assert "Nigeria" in text and "share your phone number" in text
    assert telegram_user.transcript[-1].request_contact
    assert "doesn't prove" in await telegram_user.say(local(newcomer_phone))
    telegram_user.phone = newcomer_phone  # the "share my number" button
    text = await telegram_user.say(newcomer_phone)
    assert "sent you ₦3,000.00" in text and "₦13,000.00" in text  # a demo wallet, plus the claim
    assert await wallet(rig, telegram_user) == 1_300_000
    assert "already claimed" in await telegram_user.say(f"claim {token.group(1)}")
    assert "claimed the ₦3,000.00" in await sender.receipts()
    await assert_ledger_balanced(rig)


async def test_waiting_money_is_credited_on_first_contact(rig: Rig) -> None:
    newcomer_phone = ng_phone()
    sender = rig.chat(country="NG", phone=ng_phone())
    await verified(sender)
    await sender.say(f"send 2500 to {newcomer_phone}")
    await sender.press(sender.last_choice("sendok:"))
    await sender.say("8461")
    await sender.say("8461")
    newcomer = rig.chat(country="NG", phone=newcomer_phone)  # WhatsApp vouches for the number
    text = await newcomer.say("hello")
    assert "Welcome" in text and "sent you ₦2,500.00" in text
    assert await wallet(rig, newcomer) == 1_250_000
    await assert_ledger_balanced(rig)


async def test_unclaimed_money_comes_back_and_the_sender_is_told(rig: Rig) -> None:
    sender = rig.chat(country="NG", phone=ng_phone())
    await verified(sender)
    await sender.say(f"send 1000 to {ng_phone()}")
    await sender.press(sender.last_choice("sendok:"))
    await sender.say("7264")
    await sender.say("7264")
    (transfer,) = await transfers_of(rig, sender)
    async with rig.db.transaction() as session:
        found = await session.get(MoneyTransfer, transfer.id)
        assert found is not None and found.expires_at is not None
        assert await rig.service.expire(session, transfer.id, found.expires_at + timedelta(seconds=1))
    news = await sender.receipts()
    assert "not claimed in time" in news and "₦10,000.00" in news
    await assert_ledger_balanced(rig)


# ---- bank payouts ----------------------------------------------------------------------------


async def test_bank_payout_with_name_lookup_then_success_news(rig: Rig) -> None:
    sender = rig.chat(country="NG", phone=ng_phone())
    await verified(sender)
    quote = await sender.say("send 4000 to GTBank 0123456789")
    assert re.search(r"Send ₦4,000\.00 to [A-Z]+ [A-Z]+ \(GTBank \*{6}6789\)\?", quote), quote
    await sender.press(sender.last_choice("sendok:"))
    await sender.say("3917")
    text = await sender.say("3917")
    assert "I'll tell you when it lands" in text
    assert (await sender.wallet(rig.db, "NGN")).available == 600_000
    await rig.service.poll(rig.db)
    news = await sender.receipts()
    assert "✅ ₦4,000.00 reached" in news and "GTBank ******6789" in news
    (transfer,) = await transfers_of(rig, sender)
    assert transfer.state == TransferState.SUCCEEDED
    assert await wallet(rig, sender) == 600_000
    await assert_ledger_balanced(rig)


async def test_failed_payout_is_refunded_and_unknown_accounts_are_refused(rig: Rig) -> None:
    sender = rig.chat(country="NG", phone=ng_phone())
    await verified(sender)
    text = await sender.say("send 4000 to Zenith 0123450000")
    assert "couldn't find account ******0000" in text and "account number" in text
    await sender.say("0123451111")
    await sender.press(sender.last_choice("sendok:"))
    await sender.say("3917")
    await sender.say("3917")
    await rig.service.poll(rig.db)
    news = await sender.receipts()
    assert "could not be paid out" in news and "₦10,000.00" in news
    assert await wallet(rig, sender) == 1_000_000
    await assert_ledger_balanced(rig)


# ---- KYC and PIN reset -----------------------------------------------------------------------


async def test_kyc_upgrade_through_the_sandbox_registry(rig: Rig) -> None:
    chat = rig.chat(country="NG", phone=ng_phone())
    await chat.say("hi")
    assert "Which number" in await chat.say("upgrade my account")
    await chat.press("idkind:nin")
    assert "11 digits" in await chat.say("12345")
    assert "couldn't find" in await chat.say("12345678000")
    nin = f"{random.randrange(10**10):010d}4"
    text = await chat.say(nin)
    assert "level 1" in text and "₦50,000.00 a day" in text and "verify your BVN too" in text
    the_bvn = f"{random.randrange(10**5):05d}{nin[-6:]}"  # the sandbox's same holder: same last 6 digits
    text = await chat.say(f"my bvn is {the_bvn}")
    assert "level 2" in text and "₦200,000.00 a day" in text
    assert "already verified" in await chat.say("verify")
    await assert_no_secrets(rig, ["12345", "12345678000", nin, the_bvn], chat)


async def test_pin_reset_needs_the_number_on_file(rig: Rig) -> None:
    friend_phone = ng_phone()
    await rig.chat(country="NG", phone=friend_phone).say("hi")
    chat = rig.chat(country="NG", phone=ng_phone())
    number = await verified(chat)
    assert "don't have a PIN yet" in await chat.say("forgot my PIN")
    await chat.say(f"send 1000 to {friend_phone}")
    await chat.press(chat.last_choice("sendok:"))
    await chat.say("5937")
    await chat.say("5937")
    assert "send the BVN" in await chat.say("I forgot my PIN")
    assert "doesn't match" in await chat.say("22000000001")
    text = await chat.say(number)
    assert "PIN is reset" in text and "next 24 hours" in text
    await chat.say(f"send 1000 to {friend_phone}")
    assert "choose a transaction PIN" in await chat.press(chat.last_choice("sendok:"))
    await chat.say("6048")
    assert "✅ Sent ₦1,000.00" in await chat.say("6048")
    assert await wallet(rig, chat) == 800_000
    await assert_no_secrets(rig, ["5937", "6048", number, "22000000001"], chat)
    await assert_ledger_balanced(rig)


async def test_large_transfers_of_new_users_wait_for_review(rig: Rig) -> None:
    friend_phone = ng_phone()  # not with us: a claim link, which no wallet cap limits
    chat = rig.chat(country="NG", phone=ng_phone())
    await verified(chat)
    await top_up(rig, chat, 30_000_00)
    await chat.say(f"send 25000 to {friend_phone}")
    await chat.press(chat.last_choice("sendok:"))
    await chat.say("5937")
    text = await chat.say("5937")
    assert "being checked by our team" in text
    assert (await chat.wallet(rig.db, "NGN")).available == 15_000_00
    (transfer,) = await transfers_of(rig, chat)
    assert transfer.state == TransferState.HELD and transfer.review_reason == "cooling-off: new identity"
    await assert_ledger_balanced(rig)


async def test_daily_limit_refusals_say_how_to_raise_the_limit(rig: Rig) -> None:
    chat = rig.chat(country="NG", phone=ng_phone())
    await verified(chat)
    await top_up(rig, chat, 60_000_00)
    text = await chat.say(f"send 55000 to {ng_phone()}")
    assert "₦50,000.00 left at your level" in text and "verify your identity" in text
    assert chat.last_choice("idverify") and "How much" in text
    assert await transfers_of(rig, chat) == []


async def test_kyc_refusals_are_explained(rig: Rig) -> None:
    taken = bvn()
    await verified(rig.chat(country="NG", phone=ng_phone()), taken)
    chat = rig.chat(country="NG", phone=ng_phone())
    await chat.say("hi")
    assert "already linked to another NexusTop account" in await chat.say(f"my bvn is {taken}")
    assert "not answering" in await chat.say("my bvn is 22123456999")
    await chat.say("verify")
    await chat.press("idkind:bvn")
    assert "has digits only" in await chat.say("2212345678O")  # a letter O
    assert "11 digits" in await chat.say("221234")
    text = await chat.say("22123")
    assert "stop here" in text
    late = bvn()
    assert "I've hidden it" in await chat.say(late)  # the flow is over: a late number is still hidden
    await assert_no_secrets(rig, [taken, "22123456999", "221234", late], chat)


async def test_news_after_review_and_reversal(rig: Rig) -> None:
    chat = rig.chat(country="NG", phone=ng_phone())
    await verified(chat)
    await top_up(rig, chat, 30_000_00)
    await chat.say(f"send 25000 to {ng_phone()}")
    await chat.press(chat.last_choice("sendok:"))
    await chat.say("5937")
    assert "being checked by our team" in await chat.say("5937")
    (held,) = await transfers_of(rig, chat)
    async with rig.db.transaction() as session:
        staff = Staff(email=f"{chat.user}@example.com", name="Ada", role="agent", password_hash="-")
        session.add(staff)
        await session.flush()
        assert await rig.service.release(session, held.id, staff.id) is not None
    news = await chat.receipts()
    assert "approved your transfer of ₦25,000.00" in news and "claim m_" in news

    await chat.say("send 4000 to GTBank 0123456789")
    await chat.press(chat.last_choice("sendok:"))
    await chat.say("5937")
    await rig.service.poll(rig.db)
    payout = next(t for t in await transfers_of(rig, chat) if t.kind == "bank")
    async with rig.db.transaction() as session:
        check = PayoutCheck(PayoutStatus.REVERSED, reference=payout.reference)
        assert await rig.service.apply(session, payout.id, check) == TransferState.REVERSED
    news = await chat.receipts()
    assert "reached" in news and "sent back by the receiving bank" in news and "₦15,000.00" in news
    await assert_ledger_balanced(rig)


async def test_a_rejected_transfer_is_refunded_and_told(rig: Rig) -> None:
    chat = rig.chat(country="NG", phone=ng_phone())
    await verified(chat)
    await top_up(rig, chat, 30_000_00)
    await chat.say(f"send 25000 to {ng_phone()}")
    await chat.press(chat.last_choice("sendok:"))
    await chat.say("7315")
    await chat.say("7315")
    (held,) = await transfers_of(rig, chat)
    async with rig.db.transaction() as session:
        staff = Staff(email=f"{chat.user}@example.com", name="Ada", role="agent", password_hash="-")
        session.add(staff)
        await session.flush()
        assert await rig.service.reject(session, held.id, staff.id, "looks like fraud") is not None
    news = await chat.receipts()
    assert "stopped after review" in news and "₦40,000.00" in news
    await assert_ledger_balanced(rig)


async def test_an_identity_number_before_the_country_is_known_is_not_kept(rig: Rig) -> None:
    newcomer = rig.chat()  # no country hint, no phone: we must ask where they are
    number = bvn()
    assert "Which country" in await newcomer.say(f"verify my bvn {number}")
    assert newcomer.transcript[-1].forget_inbound
    assert "Nigeria" in await newcomer.press("country:NG")  # nothing replayed from the first message
    await assert_no_secrets(rig, [number], newcomer)


# ---- purchases above the no-PIN threshold ---------------------------------------------------------


async def test_no_pin_is_asked_for_a_purchase_the_wallet_cannot_pay(rig: Rig) -> None:
    chat = rig.chat(country="NG", phone=ng_phone())
    await chat.say("hello")  # the demo's ₦10,000
    quote = await chat.say("buy 25000 airtime for 08031234567")
    assert "more than you have" in quote
    text = await chat.say("yes")  # confirming anyway: refused at once, no PIN to choose first
    assert "not enough" in text and "PIN" not in text
    assert (await chat.wallet(rig.db, "NGN")).available == 10_000_00


async def test_a_purchase_above_the_threshold_needs_the_pin(rig: Rig) -> None:
    chat = rig.chat(country="NG", phone=ng_phone())
    await chat.say("hello")
    await top_up(rig, chat, 60_000_00)  # with the demo's ₦10,000: ₦70,000
    quote = await chat.say("buy 25000 airtime for 08031234567")
    assert "Buy ₦25,000.00 MTN airtime" in quote
    assert "choose a transaction PIN" in await chat.say("yes")
    assert "same PIN again" in await chat.say("2580")
    placed = await chat.say("2580")
    assert "PIN is saved" in placed and "Order placed" in placed
    assert (await chat.wallet(rig.db, "NGN")).available == 45_000_00

    await chat.say("buy 21000 airtime for 08031234567")
    assert "Enter your transaction PIN" in await chat.say("yes")
    assert "Wrong PIN" in await chat.say("1357")
    assert (await chat.wallet(rig.db, "NGN")).available == 45_000_00  # nothing reserved on a wrong PIN
    assert "Order placed" in await chat.say("2580")
    assert (await chat.wallet(rig.db, "NGN")).available == 24_000_00
    async with rig.db.transaction() as session:
        lines = (await session.scalars(select(Message.body).where(Message.direction == "in"))).all()
    assert not any(line.strip() in ("2580", "1357") for line in lines)


async def test_a_send_over_the_daily_limit_resumes_after_verifying_to_a_higher_level(rig: Rig) -> None:
    friend_phone = ng_phone()
    await rig.chat(country="NG", phone=friend_phone).say("hi")
    chat = rig.chat(country="NG", phone=ng_phone())
    await chat.say("hi")
    nin = f"{random.randrange(10**10):010d}4"
    assert "Which number" in await chat.say("verify")
    await chat.press("idkind:nin")
    assert "level 1" in await chat.say(nin)
    await top_up(rig, chat, 60_000_00)
    text = await chat.say(f"send 55000 to {local(friend_phone)}")
    assert "₦50,000.00 left at your level" in text and "How much" in text
    assert "11-digit BVN" in await chat.press(chat.last_choice("idverify"))  # the one missing
    the_bvn = f"{random.randrange(10**5):05d}{nin[-6:]}"  # the sandbox's same holder
    text = await chat.say(the_bvn)
    assert "level 2" in text and "₦200,000.00 a day" in text
    quote = text[text.index("₦200,000.00 a day") :]
    assert "Send ₦55,000.00 to" in quote and display_phone(friend_phone) in quote
    assert after_verify.SLOT not in await slots_of(rig, chat)
    assert await transfers_of(rig, chat) == []
    await assert_no_secrets(rig, [nin, the_bvn], chat)


async def test_a_smaller_amount_after_a_daily_limit_refusal_drops_the_kept_send(rig: Rig) -> None:
    chat = rig.chat(country="NG", phone=ng_phone())
    await verified(chat)
    await top_up(rig, chat, 60_000_00)
    await chat.say(f"send 55000 to {local(ng_phone())}")
    assert after_verify.SLOT in await slots_of(rig, chat)
    assert "Send ₦4,000.00 to" in await chat.say("4000")
    assert after_verify.SLOT not in await slots_of(rig, chat)
