"""Time as the domain sees it: timezone-aware UTC, whatever the database hands back."""

from __future__ import annotations

from datetime import UTC, datetime


def aware(moment: datetime) -> datetime:
    """``moment`` as aware UTC (SQLite hands datetimes back naive; they were stored as UTC)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
