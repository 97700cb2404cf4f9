"""Entry points the CLI uses to run a Celery worker or the beat scheduler in this process."""

from __future__ import annotations

from collections.abc import Sequence

from nexustop.settings import VAR_DIR


def run_worker(argv_extra: Sequence[str] = ()) -> None:
    """Run a Celery worker for NexusTop's tasks; ``argv_extra`` are extra ``celery worker`` options."""
    from nexustop.celery_app import app

    app.worker_main(["worker", "--loglevel=INFO", *argv_extra])


def run_beat() -> None:
    """Run Celery beat, which schedules the reconciler."""
    from nexustop.celery_app import app

    VAR_DIR.mkdir(parents=True, exist_ok=True)
    app.start(["beat", "--loglevel=INFO"])
