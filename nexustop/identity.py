"""Identity-check wiring: the verifier from settings, the KYC pepper, and the demo's in-process sandbox."""

from __future__ import annotations

import logging
from contextlib import AsyncExitStack
from typing import Any

from pydantic import SecretStr

from nexustop.settings import Settings
from payments.identity import DojahIdentityVerifier
from sandbox.identity import APP_ID, SECRET_KEY

log = logging.getLogger(__name__)

#: Credentials the demo's in-process identity sandbox accepts, and a pepper for the demo only.
SANDBOX_IDENTITY: dict[str, Any] = {
    "identity_app_id": APP_ID,
    "identity_secret_key": SecretStr(SECRET_KEY),
}
DEMO_KYC_PEPPER = SecretStr("demo-only-kyc-pepper-never-use-in-production")


def build_identity_verifier(settings: Settings) -> DojahIdentityVerifier | None:
    """The identity verifier when its credentials are set (None: identity checks are off).

    The caller owns it: ``await verifier.close()`` when done.
    """
    secret = settings.identity_secret_key.get_secret_value()
    if not (settings.identity_app_id and secret):
        return None
    return DojahIdentityVerifier(
        settings.identity_base_url,
        settings.identity_app_id,
        secret,
        timeout=settings.provider_timeout_seconds,
    )


def kyc_pepper(settings: Settings) -> str:
    """The key of the identity-number hashes; refuses to go on without one."""
    pepper = settings.kyc_pepper.get_secret_value()
    if not pepper:
        raise RuntimeError("KYC_PEPPER is not set: identity numbers cannot be hashed")
    return pepper


def demo_identity_settings(settings: Settings) -> dict[str, Any]:
    """Settings updates for the demo: sandbox credentials when none are configured, a demo pepper."""
    update: dict[str, Any] = {}
    if not settings.identity_secret_key.get_secret_value():
        update |= SANDBOX_IDENTITY
    if not settings.kyc_pepper.get_secret_value():
        update["kyc_pepper"] = DEMO_KYC_PEPPER
    return update


async def start_identity_sandbox(stack: AsyncExitStack, settings: Settings) -> Settings:
    """Serve the identity sandbox in-process and point the verifier at it (sandbox credentials only)."""
    from sandbox.identity import start_identity_sandbox as serve_sandbox

    if settings.identity_secret_key != SANDBOX_IDENTITY["identity_secret_key"]:
        return settings
    runner, base_url = await serve_sandbox()
    stack.push_async_callback(runner.cleanup)
    log.info("identity sandbox at %s: BVN/NIN ending 000 not found, 999 unavailable", base_url)
    return settings.model_copy(update={"identity_base_url": base_url})
