"""Fuzz every HTTP route the app mounts (Hypothesis): random methods, headers, bodies and sizes from an
anonymous client never get a 5xx and never leave a stored row."""

from __future__ import annotations

import re
import string
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest_asyncio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.integration.every_route import every_route_app, routes, row_counts
from tests.integration.telegram_harness import Harness

_PLACEHOLDER = re.compile(r"\{[^}]+\}")
_SAFE = string.ascii_letters + string.digits + "-_.~%"
_VALUE = st.text(
    alphabet=string.printable.replace("\r", "").replace("\n", "").replace("\x0b", "").replace("\x0c", ""),
    max_size=80,
)
_HEADERS = st.dictionaries(
    st.sampled_from(
        [
            "Content-Type",
            "Cookie",
            "X-Partial",
            "X-Forwarded-Proto",
            "X-Forwarded-For",
            "x-paystack-signature",
            "verif-hash",
            "flutterwave-signature",
            "X-Hub-Signature-256",
            "X-Telegram-Bot-Api-Secret-Token",
            "Accept",
        ]
    ),
    st.one_of(
        _VALUE,
        st.sampled_from(
            [
                "application/json",
                "application/x-www-form-urlencoded",
                "multipart/form-data; boundary=xyz",
                "multipart/form-data",
                "text/plain; charset=utf-9",
                "nt_staff=forged; nt_login_csrf=",
            ]
        ),
    ),
    max_size=4,
)
_BODY = st.one_of(
    st.binary(max_size=512),
    st.text(max_size=256).map(str.encode),
    st.sampled_from([b"{}", b"[]", b"null", b'{"update_id": 1}', b"csrf=x&text=hi", b"--xyz--\r\n"]),
    st.sampled_from([0, 8 * 1024 + 1, 40_000, 300_000, 1_100_000]).map(lambda n: b"{" * n),
)


@dataclass
class Target:
    """The app, its routes and what its database held before the fuzzing."""

    h: Harness
    routes: list[tuple[str, str]]
    rows: dict[str, int]


@pytest_asyncio.fixture(scope="module")
async def target(pg_url: str) -> AsyncIterator[Target]:
    async with every_route_app(pg_url) as h:
        await h.settle()
        yield Target(h, routes(h.client), await row_counts(h.app.db))


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
async def test_no_route_answers_5xx_or_stores_a_row_for_an_anonymous_request(
    target: Target, data: st.DataObject
) -> None:
    mounted, path = data.draw(st.sampled_from(target.routes), label="route")
    method = data.draw(
        st.sampled_from([mounted, mounted, "GET", "POST", "PUT", "DELETE", "PATCH"]), label="method"
    )
    path = _PLACEHOLDER.sub(lambda _: data.draw(st.text(alphabet=_SAFE, min_size=1, max_size=12)), path)
    headers = data.draw(_HEADERS, label="headers")
    body = data.draw(_BODY, label="body")
    target.h.client.session.cookie_jar.clear()
    response = await target.h.client.request(method, path, data=body, headers=headers, allow_redirects=False)
    await response.read()
    assert response.status < 500, (method, path, headers, len(body), response.status)
    assert await row_counts(target.h.app.db) == target.rows, (method, path, headers, body[:200])
