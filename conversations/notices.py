"""Texts a channel shows by itself, outside any turn: button notices, /privacy, menus and labels.

They live here, with every other reply text, so that they are extracted into the catalogs;
channels translate them with ``localizer(...)._(TEXT)``.
"""

from __future__ import annotations

from conversations.i18n import N_

BUTTON_EXPIRED = N_("This button has expired.")
BUTTON_NOT_YOURS = N_("This button isn't for you.")
BUTTON_USED = N_("You already chose.")
PRIVATE_ONLY = N_("Let's do that in a private chat with me.")
PRIVACY = N_(
    "Privacy: we keep your Telegram id, name, language, the numbers you top up and your orders,"
    " only to serve you and as the law requires. We never sell them. Type /help for more."
)

#: Keyboard labels: turning the pages of a list, a link without a title of its own.
PREVIOUS_PAGE = N_("‹ Back")
NEXT_PAGE = N_("More ›")
OPEN_LINK = N_("Open")
#: The button that shares the user's own phone number, and the line that points at it when the
#: question itself already carries other buttons.
SHARE_PHONE = N_("📱 Share my number")
SHARE_PHONE_HINT = N_("Or tap “📱 Share my number” below.")

#: The command menu (Telegram's ``setMyCommands``): command and what it does.
COMMANDS = (
    ("start", N_("Start or pick up where you left off")),
    ("help", N_("What I can do")),
    ("balance", N_("Your wallet balance")),
    ("history", N_("Your recent purchases")),
    ("cancel", N_("Cancel what we were doing")),
    ("language", N_("Change the reply language")),
    ("privacy", N_("How we use your data")),
)
