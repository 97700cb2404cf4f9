"""The Celery application: Redis broker and backend, late acks, and the reconciler on a beat."""

from __future__ import annotations

import logging

from celery import Celery

from nexustop.settings import VAR_DIR, Settings, get_settings

log = logging.getLogger(__name__)

#: How often beat runs the reconciler, in seconds.
RECONCILE_EVERY_SECONDS = 60.0
#: How often beat asks the gateways about payments whose webhook never came, in seconds.
POLL_PAYMENTS_EVERY_SECONDS = 30.0
EXPIRE_GIFTS_EVERY_SECONDS = 60.0


def configure(app: Celery, settings: Settings) -> None:
    """Apply ``settings`` to ``app``."""
    app.conf.update(
        broker_url=settings.redis_url,
        result_backend=settings.redis_url,
        broker_connection_retry_on_startup=True,
        # A task is acked only once it finished, and a worker that dies mid-task gives it back:
        # fulfilment is idempotent, so running twice is safe while never running is not.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        result_expires=24 * 3600,
        timezone="UTC",
        enable_utc=True,
        # Redis holds countdown retries unacked in the worker; a visibility timeout shorter than
        # the longest requery delay would redeliver them again and again.
        broker_transport_options={"visibility_timeout": settings.celery_visibility_timeout},
        result_backend_transport_options={"visibility_timeout": settings.celery_visibility_timeout},
        beat_schedule={
            "reconcile-stalled-orders": {
                "task": "nexustop.reconcile",
                "schedule": RECONCILE_EVERY_SECONDS,
                "options": {"expires": RECONCILE_EVERY_SECONDS},
            },
            "expire-unclaimed-gifts": {
                "task": "nexustop.expire_gifts",
                "schedule": EXPIRE_GIFTS_EVERY_SECONDS,
                "options": {"expires": EXPIRE_GIFTS_EVERY_SECONDS},
            },
            "poll-unannounced-payments": {
                "task": "nexustop.poll_payments",
                "schedule": POLL_PAYMENTS_EVERY_SECONDS,
                "options": {"expires": POLL_PAYMENTS_EVERY_SECONDS},
            },
            "send-and-check-payouts": {
                "task": "nexustop.poll_payouts",
                "schedule": settings.payout_poll_seconds,
                "options": {"expires": settings.payout_poll_seconds},
            },
        },
        beat_schedule_filename=str(VAR_DIR / "celerybeat-schedule"),
    )


def warn_if_redelivery_too_early(settings: Settings) -> None:
    """Warn when Redis would redeliver a countdown retry before its countdown is over."""
    longest = max(settings.requery_delays_seconds, default=0.0)
    if settings.celery_visibility_timeout <= longest:
        log.warning(
            "celery_visibility_timeout %.0f s <= longest requery delay %.0f s: retries will run twice",
            settings.celery_visibility_timeout,
            longest,
        )


def create_app(settings: Settings) -> Celery:
    """A Celery app for ``settings`` that knows NexusTop's tasks."""
    app = Celery("nexustop", include=["nexustop.tasks"])
    configure(app, settings)
    warn_if_redelivery_too_early(settings)
    return app


# Deliberately not mapped to Celery's own task_always_eager: eager Celery ignores retry countdowns
# and would requery in a tight loop. CELERY_TASK_ALWAYS_EAGER selects InProcessQueue instead.
app = create_app(get_settings())
