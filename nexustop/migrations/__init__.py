"""Alembic migrations for the NexusTop schema (PostgreSQL and SQLite)."""
