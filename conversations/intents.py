"""What a user wants from one message: the closed set of intents the parser recognises."""

from __future__ import annotations

from enum import StrEnum


class Intent(StrEnum):
    """A user's intent; values are stable strings used in logs, data and tests."""

    BUY_AIRTIME = "buy_airtime"
    BUY_DATA = "buy_data"
    SEND_MONEY = "send_money"
    FUND_WALLET = "fund_wallet"
    PAY_BILL = "pay_bill"
    GIFT = "gift"
    VERIFY_IDENTITY = "verify_identity"
    RESET_PIN = "reset_pin"
    CHECK_BALANCE = "check_balance"
    HISTORY = "history"
    TALK_TO_AGENT = "talk_to_agent"
    HELP = "help"
    CONFIRM = "confirm"
    CANCEL = "cancel"
    THANKS = "thanks"
    REPEAT_ORDER = "repeat_order"
    CHANGE_NETWORK = "change_network"
    UNKNOWN = "unknown"
