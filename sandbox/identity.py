"""A Dojah-shaped identity registry (aiohttp) for tests and demos: BVN, NIN and national ID lookups.

API (as ``payments.identity`` expects; ``AppId`` and ``Authorization`` must equal the sandbox's, or
401 ``{"error": "Unauthorized"}``):

- ``GET /api/v1/kyc/bvn/full?bvn=…`` → ``{"entity": {bvn, first_name, middle_name, last_name, gender,
  date_of_birth, phone_number1, phone_number2, image}}``
- ``GET /api/v1/kyc/nin?nin=…`` → ``{"entity": {nin, first_name, middle_name, last_name, gender,
  date_of_birth, phone_number, photo}}``
- ``GET /api/v1/{cc}/kyc/national_id?id=…`` → ``{"entity": {id, first_name, …, phone_number}}``
- ``GET /sandbox/lookups`` → ``{"lookups": n}``: how many lookups were answered (numbers are not kept).

Magic numbers, by how the number ends:

=======  ==========================================================================================
``000``  not found: HTTP 400 ``{"error": "BVN not found"}`` (``NIN``/``ID`` likewise)
``999``  the registry is down: HTTP 503 ``{"error": "…temporarily unavailable"}``
``888``  answers only after ``delay`` seconds (default 30): the client times out
other    matched: a holder picked from the number's last six digits, so a BVN and a NIN that end
         alike belong to one person. Nigerian names for BVN and NIN, West African names for ID
         cards; the phone is a plausible mobile of the country, derived from the same digits.
=======  ==========================================================================================

A BVN or NIN that is not 11 digits gets HTTP 400 ``{"error": "Invalid BVN"}``. The in-process
server (``start_identity_sandbox``) keeps no access log, since its URLs carry the numbers; under
``nexustop sandbox`` aiohttp's access log shows them (use sandbox numbers only).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
from dataclasses import dataclass
from typing import Any

import phonenumbers
from aiohttp import web

APP_ID = "sandbox-identity-app"
SECRET_KEY = "sandbox-identity-key"
#: Seconds the ``…888`` numbers wait before answering.
DEFAULT_DELAY = 30.0

_NIGERIAN_FIRST = (
    ("Adaeze", "Female"),
    ("Chinedu", "Male"),
    ("Oluwaseun", "Male"),
    ("Ngozi", "Female"),
    ("Emeka", "Male"),
    ("Aisha", "Female"),
    ("Ibrahim", "Male"),
    ("Funmilayo", "Female"),
    ("Babatunde", "Male"),
    ("Halima", "Female"),
    ("Uchenna", "Male"),
    ("Temitope", "Female"),
)
_NIGERIAN_MIDDLE = ("Chioma", "Ifeanyi", "Adebayo", "Zainab", "Nnamdi", "Folake", "Musa", "Amaka")
_NIGERIAN_LAST = (
    "Okafor",
    "Adeyemi",
    "Bello",
    "Eze",
    "Okonkwo",
    "Abubakar",
    "Balogun",
    "Nwosu",
    "Ogunleye",
    "Danjuma",
    "Obi",
    "Lawal",
)
_WEST_AFRICAN_FIRST = (
    ("Aminata", "Female"),
    ("Moussa", "Male"),
    ("Fatou", "Female"),
    ("Ibrahima", "Male"),
    ("Awa", "Female"),
    ("Mamadou", "Male"),
    ("Mariama", "Female"),
    ("Ousmane", "Male"),
    ("Adjoa", "Female"),
    ("Kofi", "Male"),
)
_WEST_AFRICAN_MIDDLE = ("Binta", "Seydou", "Kadiatou", "Lamine", "Rokia", "Abdoulaye")
_WEST_AFRICAN_LAST = ("Diallo", "Traoré", "Ndiaye", "Koné", "Mensah", "Ouédraogo", "Sow", "Camara", "Diop")
_LABELS = {"bvn": "BVN", "nin": "NIN", "id": "ID"}
_DIGITS = re.compile(r"[0-9]")


@dataclass(slots=True)
class IdentitySandbox:
    """The sandbox's credentials, knob and lookup count."""

    app_id: str = APP_ID
    secret_key: str = SECRET_KEY
    delay: float = DEFAULT_DELAY
    lookups: int = 0


STATE: web.AppKey[IdentitySandbox] = web.AppKey("identity_sandbox_state", IdentitySandbox)


def _seed(number: str) -> bytes:
    """What picks the holder: the number's last six digits."""
    digits = "".join(_DIGITS.findall(number))[-6:]
    return hashlib.sha256(digits.encode()).digest()


def _phone(seed: bytes, country: str) -> str:
    """A plausible mobile number of ``country``: Nigerian local format, E.164 elsewhere."""
    tail = f"{int.from_bytes(seed[8:12], 'big') % 10_000_000:07d}"
    if country == "NG":
        return f"0803{tail}"
    example = phonenumbers.example_number_for_type(country, phonenumbers.PhoneNumberType.MOBILE)
    if example is None:
        return ""
    e164 = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
    return e164[:-4] + tail[-4:]


def holder(number: str, country: str, field: str) -> dict[str, Any]:
    """The registry record of a matched number (deterministic)."""
    seed = _seed(number)
    nigerian = country == "NG"
    firsts = _NIGERIAN_FIRST if nigerian else _WEST_AFRICAN_FIRST
    middles = _NIGERIAN_MIDDLE if nigerian else _WEST_AFRICAN_MIDDLE
    lasts = _NIGERIAN_LAST if nigerian else _WEST_AFRICAN_LAST
    first, gender = firsts[seed[0] % len(firsts)]
    phone = _phone(seed, country)
    record: dict[str, Any] = {
        field: number,
        "first_name": first.upper(),
        "middle_name": middles[seed[1] % len(middles)].upper(),
        "last_name": lasts[seed[2] % len(lasts)].upper(),
        "gender": gender,
        "date_of_birth": f"{1960 + seed[3] % 45}-{1 + seed[4] % 12:02d}-{1 + seed[5] % 28:02d}",
    }
    if field == "bvn":
        record |= {"phone_number1": phone, "phone_number2": "", "image": ""}
    else:
        record |= {"phone_number": phone, "photo": ""}
    return record


def _authorised(request: web.Request) -> bool:
    state = request.app[STATE]
    return hmac.compare_digest(request.headers.get("AppId", ""), state.app_id) and hmac.compare_digest(
        request.headers.get("Authorization", ""), state.secret_key
    )


def _error(message: str, status: int) -> web.Response:
    return web.json_response({"error": message}, status=status)


async def _answer(request: web.Request, field: str, country: str) -> web.Response:
    if not _authorised(request):
        return _error("Unauthorized", 401)
    state = request.app[STATE]
    number = request.query.get(field, "").strip()
    label = _LABELS[field]
    if field in ("bvn", "nin") and not (len(number) == 11 and number.isdigit()):
        return _error(f"Invalid {label}", 400)
    if not number:
        return _error(f"{label} is required", 400)
    state.lookups += 1
    if number.endswith("999"):
        return _error(f"{label} service temporarily unavailable, please retry", 503)
    if number.endswith("888"):
        await asyncio.sleep(state.delay)
    if number.endswith("000"):
        return _error(f"{label} not found", 400)
    return web.json_response({"entity": holder(number, country, field)})


async def bvn(request: web.Request) -> web.Response:
    """``GET /api/v1/kyc/bvn/full?bvn=…``."""
    return await _answer(request, "bvn", "NG")


async def nin(request: web.Request) -> web.Response:
    """``GET /api/v1/kyc/nin?nin=…``."""
    return await _answer(request, "nin", "NG")


async def national_id(request: web.Request) -> web.Response:
    """``GET /api/v1/{cc}/kyc/national_id?id=…``."""
    return await _answer(request, "id", request.match_info["cc"].upper())


async def lookups(request: web.Request) -> web.Response:
    """``GET /sandbox/lookups``: how many lookups were answered."""
    return web.json_response({"lookups": request.app[STATE].lookups})


def create_identity_sandbox(
    *, app_id: str = APP_ID, secret_key: str = SECRET_KEY, delay: float = DEFAULT_DELAY
) -> web.Application:
    """Build the sandbox app."""
    app = web.Application()
    app[STATE] = IdentitySandbox(app_id, secret_key, delay)
    app.router.add_get("/api/v1/kyc/bvn/full", bvn)
    app.router.add_get("/api/v1/kyc/nin", nin)
    app.router.add_get("/api/v1/{cc:[a-zA-Z]{2}}/kyc/national_id", national_id)
    app.router.add_get("/sandbox/lookups", lookups)
    return app


async def start_identity_sandbox(
    host: str = "127.0.0.1", port: int = 0, **options: Any
) -> tuple[web.AppRunner, str]:
    """Serve a sandbox on ``host:port`` (0 = any free port); return its runner and base URL.

    Like ``sandbox.serving.serve``, but without an access log: its URLs carry the numbers.
    """
    runner = web.AppRunner(create_identity_sandbox(**options), shutdown_timeout=2.0, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    bound = runner.addresses[0]
    return runner, f"http://{bound[0]}:{bound[1]}"


def identity_sandbox_of(runner: web.AppRunner) -> IdentitySandbox:
    """The sandbox state behind a runner from ``start_identity_sandbox``."""
    return runner.app[STATE]
