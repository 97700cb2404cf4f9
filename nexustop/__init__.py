"""Composition root: settings, CLI, web app factory and Celery app — the one place that wires everything."""
