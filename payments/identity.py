"""Identity verifier adapter, Dojah-shaped: the ``IdentityVerifier`` port over a KYC lookup API.

- BVN: ``GET /api/v1/kyc/bvn/full?bvn=…`` → ``{"entity": {bvn, first_name, middle_name, last_name,
  gender, date_of_birth, phone_number1, phone_number2, image}}`` (NIBSS's record).
- NIN: ``GET /api/v1/kyc/nin?nin=…`` → ``{"entity": {nin, first_name, middle_name, last_name, gender,
  date_of_birth, phone_number, photo}}`` (NIMC's record).
- National ID card elsewhere: ``GET /api/v1/{cc}/kyc/national_id?id=…``, same ``entity`` shape. This
  path is our extrapolation of Dojah's per-country routes (``/api/v1/gh/kyc/passport``…): Dojah
  covers few of our countries, so check what the chosen provider really serves before going live.
- Not found: HTTP 400 (or 404) ``{"error": "BVN not found"}``.
- Auth: ``AppId: <app id>`` and ``Authorization: <secret key>`` (the key itself, no ``Bearer``).

Never raises: a timeout, a connection error, a 5xx, a refused key (401/403), rate limiting or an
unreadable answer is ``UNAVAILABLE``. The number goes to the provider in the query string, as the
API wants; it is never logged here, nor is the URL that carries it.
"""

from __future__ import annotations

import logging
from typing import Any

import aiohttp

from domain.phones import normalize_phone
from domain.ports import IdentityCheck, IdentityKind, IdentityStatus, PaymentGatewayError
from payments.gateways import GatewayClient, text_or_none

log = logging.getLogger(__name__)

#: Lookup path and query parameter per kind; national IDs go to the country's own path.
_LOOKUPS = {
    IdentityKind.BVN: ("/api/v1/kyc/bvn/full", "bvn"),
    IdentityKind.NIN: ("/api/v1/kyc/nin", "nin"),
}
#: Words in a 400/404 error that mean "no such number" rather than "bad request".
_NOT_FOUND_WORDS = ("not found", "invalid", "does not exist", "no record")
#: Name and phone fields, preferred first (BVN, NIN and vNIN records spell them differently).
_FIRST = ("first_name", "firstname")
_MIDDLE = ("middle_name", "middlename")
_LAST = ("last_name", "surname", "lastname")
_PHONE = ("phone_number1", "phone_number", "mobile", "telephoneno", "phone_number2")


def lookup(kind: IdentityKind, country: str) -> tuple[str, str]:
    """The API path and query parameter that look ``kind`` up in ``country``."""
    return _LOOKUPS.get(kind, (f"/api/v1/{country.lower()}/kyc/national_id", "id"))


def _field(entity: dict[str, Any], names: tuple[str, ...]) -> str | None:
    for name in names:
        value = text_or_none(entity.get(name))
        if value and value.strip():
            return value.strip()
    return None


def full_name(entity: dict[str, Any]) -> str | None:
    """The holder's name as the registry spells it: first, middle and last, when present."""
    parts = [_field(entity, names) for names in (_FIRST, _MIDDLE, _LAST)]
    joined = " ".join(part for part in parts if part)
    return " ".join(joined.split()) or None


def _error_text(reply: object) -> str:
    if not isinstance(reply, dict):
        return ""
    return str(reply.get("error") or reply.get("message") or "").lower()


def check_from_reply(status: int, reply: object, country: str) -> IdentityCheck:
    """A lookup's HTTP status and JSON body as an ``IdentityCheck``."""
    entity = reply.get("entity") if isinstance(reply, dict) else None
    if status == 200 and isinstance(entity, dict):
        phone = _field(entity, _PHONE)
        return IdentityCheck(
            IdentityStatus.MATCHED,
            full_name=full_name(entity),
            phone=normalize_phone(phone, country) if phone else None,
        )
    if status in (400, 404) and any(word in _error_text(reply) for word in _NOT_FOUND_WORDS):
        return IdentityCheck(IdentityStatus.NOT_FOUND)
    if status in (401, 403):
        log.error("identity provider refused our credentials (HTTP %s)", status)
    else:
        log.warning("identity lookup gave no answer: HTTP %s", status)
    return IdentityCheck(IdentityStatus.UNAVAILABLE)


class DojahIdentityVerifier(GatewayClient):
    """``IdentityVerifier`` backed by a Dojah-shaped KYC API (or ``sandbox.identity``)."""

    name = "dojah"

    def __init__(
        self,
        base_url: str,
        app_id: str,
        secret_key: str,
        *,
        timeout: float = 15.0,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        super().__init__(base_url, timeout, session)
        self._app_id = app_id
        self._secret_key = secret_key

    def _headers(self) -> dict[str, str]:
        return {"AppId": self._app_id, "Authorization": self._secret_key, "Accept": "application/json"}

    async def verify(self, kind: IdentityKind, number: str, country: str) -> IdentityCheck:
        """Look ``number`` up in the registry for ``kind``; never raises."""
        path, parameter = lookup(kind, country)
        try:
            status, reply = await self._client.json_call(
                "identity provider",
                "GET",
                f"{self._base_url}{path}",
                params={parameter: number},
                headers=self._headers(),
            )
        except PaymentGatewayError as error:
            log.warning("%s lookup unavailable: %s", kind.value, error)
            return IdentityCheck(IdentityStatus.UNAVAILABLE)
        return check_from_reply(status, reply, country)
