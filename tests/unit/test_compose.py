"""docker-compose.yml: every service is there, healthchecked, and wired to what it needs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
SERVICES = ("postgres", "redis", "web", "worker", "beat")


@pytest.fixture(scope="module")
def services() -> dict[str, dict[str, Any]]:
    """The services of the project's compose file (anchors and merge keys resolved)."""
    document = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(document, dict), "docker-compose.yml is not a mapping"
    found = document.get("services")
    assert isinstance(found, dict), "docker-compose.yml has no services"
    return found


def command_of(service: dict[str, Any]) -> list[str]:
    """A service's command as a list of words, whether written as a string or a list."""
    command = service.get("command")
    assert command, "service has no command"
    return command.split() if isinstance(command, str) else [str(word) for word in command]


def depends_on(service: dict[str, Any]) -> dict[str, str | None]:
    """A service's dependencies and their conditions, whether written as a list or a mapping."""
    found = service.get("depends_on") or {}
    if isinstance(found, list):
        return dict.fromkeys(found)
    return {name: (spec or {}).get("condition") for name, spec in found.items()}


def test_the_compose_file_is_inside_the_project() -> None:
    """The file under test is the project's own, nothing outside /work/main."""
    assert COMPOSE.is_file()
    assert COMPOSE.resolve().is_relative_to(ROOT)


@pytest.mark.parametrize("name", SERVICES)
def test_every_service_exists_with_a_healthcheck(services: dict[str, dict[str, Any]], name: str) -> None:
    """postgres, redis, web, worker and beat exist, each with a real healthcheck."""
    assert name in services, f"no {name} service"
    healthcheck = services[name].get("healthcheck")
    assert isinstance(healthcheck, dict), f"{name} has no healthcheck"
    assert not healthcheck.get("disable", False), f"{name} disables its healthcheck"
    test = healthcheck.get("test")
    assert test, f"{name} healthcheck has no test"
    if isinstance(test, list):
        assert test[0] in {"CMD", "CMD-SHELL"}, f"{name} healthcheck test must start with CMD or CMD-SHELL"
        assert len(test) > 1


def test_web_serves_nexustop(services: dict[str, dict[str, Any]]) -> None:
    """web runs ``nexustop serve`` and its healthcheck hits /healthz."""
    command = command_of(services["web"])
    assert command[:2] == ["nexustop", "serve"]
    assert "/healthz" in str(services["web"]["healthcheck"]["test"])


def test_worker_runs_a_celery_worker_for_the_nexustop_app(services: dict[str, dict[str, Any]]) -> None:
    """worker runs ``celery -A nexustop.celery_app worker``."""
    command = command_of(services["worker"])
    assert command[0] == "celery"
    assert "worker" in command
    assert _app_of(command) == "nexustop.celery_app"


def test_beat_runs_celery_beat_for_the_nexustop_app(services: dict[str, dict[str, Any]]) -> None:
    """beat runs ``celery -A nexustop.celery_app beat``."""
    command = command_of(services["beat"])
    assert command[0] == "celery"
    assert "beat" in command
    assert _app_of(command) == "nexustop.celery_app"


@pytest.mark.parametrize("name", ["web", "worker"])
def test_app_services_wait_for_postgres_and_redis(services: dict[str, dict[str, Any]], name: str) -> None:
    """web and worker depend on postgres and redis (healthy)."""
    needs = depends_on(services[name])
    for backing in ("postgres", "redis"):
        assert backing in needs, f"{name} does not depend on {backing}"
        assert needs[backing] in {None, "service_healthy"}, f"{name} should wait for {backing} to be healthy"


@pytest.mark.parametrize("name", ["web", "worker"])
def test_app_services_wait_for_the_migration(services: dict[str, dict[str, Any]], name: str) -> None:
    """web and worker start only after ``nexustop db upgrade`` completed successfully."""
    assert command_of(services["migrate"])[:3] == ["nexustop", "db", "upgrade"]
    assert depends_on(services[name]).get("migrate") == "service_completed_successfully"


def _app_of(command: list[str]) -> str | None:
    for index, word in enumerate(command):
        if word in {"-A", "--app"} and index + 1 < len(command):
            return command[index + 1]
        if word.startswith("--app="):
            return word.split("=", 1)[1]
    return None
