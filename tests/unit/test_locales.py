"""The fr and pt catalogs translate every extracted message, keep its placeholders, and load at run time."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from conversations.i18n import localizer

ROOT = Path(__file__).resolve().parents[2]
LOCALES = ROOT / "locales"
TRANSLATED = ("fr", "pt")
PLACEHOLDER = re.compile(r"%\((\w+)\)s")
#: Channel limits: WhatsApp reply-button titles and list-button titles.
BUTTON_TITLES = ("Confirm", "Cancel", "Change network", "My number")
LIST_TITLES = ("Countries", "Networks", "Bundles")


def _read(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as po_file:
        return read_po(po_file, locale=locale)


def _first(value: str | tuple[str, ...]) -> str:
    """The singular of a plural entry, or the string itself."""
    return value if isinstance(value, str) else value[0]


def _template_ids() -> list[str]:
    return [_first(message.id) for message in _read(LOCALES / "messages.pot") if message.id]


def _catalog(language: str) -> Catalog:
    return _read(LOCALES / language / "LC_MESSAGES" / "messages.po", locale=language)


def _strings(language: str) -> dict[str, str]:
    # A plural entry counts as translated only when every form is.
    return {
        _first(message.id): message.string
        if isinstance(message.string, str)
        else ("" if not all(message.string) else message.string[-1])
        for message in _catalog(language)
        if message.id
    }


def test_template_has_the_messages_of_every_flow() -> None:
    files = {
        Path(location).name
        for message in _read(LOCALES / "messages.pot")
        for location, _line in message.locations
    }
    assert {"purchase.py", "account.py", "onboarding.py", "engine.py", "receipts.py"} <= files
    assert "Cancel" in _template_ids()


def test_template_is_up_to_date_with_the_code() -> None:
    """Every string marked in ``conversations/`` is in the template (run the extract step if not)."""
    with (ROOT / "babel.cfg").open(encoding="utf-8") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    marked = {
        message if isinstance(message, str) else message[0]
        for _name, _line, message, _comments, _context in extract_from_dir(
            ROOT / "conversations", method_map, options_map, keywords={"_": None, "N_": None, "n_": (1, 2)}
        )
    }
    assert sorted(marked - set(_template_ids())) == []


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_message_is_translated(language: str) -> None:
    strings = _strings(language)
    untranslated = [msgid for msgid in _template_ids() if not strings.get(msgid, "").strip()]
    assert untranslated == []


@pytest.mark.parametrize("language", [*TRANSLATED, "en"])
def test_catalog_matches_template(language: str) -> None:
    """Run the update step after extracting: no message missing from, or left over in, the catalog."""
    assert sorted(_strings(language)) == sorted(_template_ids())


@pytest.mark.parametrize("language", TRANSLATED)
def test_no_fuzzy_entries(language: str) -> None:
    catalog = _catalog(language)
    assert not catalog.fuzzy
    assert [message.id for message in catalog if message.id and message.fuzzy] == []


@pytest.mark.parametrize("language", TRANSLATED)
def test_placeholders_are_kept(language: str) -> None:
    for msgid, msgstr in _strings(language).items():
        names = set(PLACEHOLDER.findall(msgid))
        assert set(PLACEHOLDER.findall(msgstr)) == names, msgid
        if names:
            msgstr % dict.fromkeys(names, "x")  # no stray % that would break formatting
        assert msgstr.count("\n") == msgid.count("\n"), msgid


@pytest.mark.parametrize("language", TRANSLATED)
def test_leading_emoji_is_kept(language: str) -> None:
    for msgid, msgstr in _strings(language).items():
        if msgid and not msgid[0].isascii():
            emoji = msgid.split(" ", 1)[0]
            assert msgstr.startswith(emoji + " "), msgid


@pytest.mark.parametrize("language", TRANSLATED)
def test_titles_fit_the_channels(language: str) -> None:
    strings = _strings(language)
    for title in BUTTON_TITLES:
        assert 0 < len(strings[title]) <= 20, title
    for title in LIST_TITLES:
        assert 0 < len(strings[title]) <= 24, title


def test_runtime_loader_reads_the_po_files() -> None:
    assert localizer("fr", None)._("Cancel") == "Annuler"
    assert localizer("pt", None)._("Cancel") == "Cancelar"
    assert localizer("en", None)._("Cancel") == "Cancel"
    assert localizer("fr", None)._("Your balance: %(balance)s", balance="1 000 F CFA") == (
        "Votre solde : 1 000 F CFA"
    )
