"""The lock files say what every machine installs: they must match pyproject.toml and the venv."""

from __future__ import annotations

import importlib.metadata
import re
import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
RUNTIME_LOCK = ROOT / "requirements.lock"
DEV_LOCK = ROOT / "requirements-dev.lock"
FROM_PYPROJECT = "nexustop (pyproject.toml)"
_PIN = re.compile(r"^(?P<name>[A-Za-z0-9._-]+)==(?P<version>\S+)(?:\s*;\s*(?P<marker>[^\\]+?))?\s*\\?$")


@dataclass
class Pin:
    """One locked package: its exact version, the platforms it is for, its hashes and who needs it."""

    name: str
    version: str
    marker: Marker | None
    hashes: list[str] = field(default_factory=list)
    via: list[str] = field(default_factory=list)

    def applies_here(self) -> bool:
        """Whether this machine installs it (its marker, if any, holds here)."""
        return self.marker is None or self.marker.evaluate()


@cache
def read_lock(path: Path) -> dict[str, Pin]:
    """The pins of a `uv pip compile` output file, by canonical name."""
    pins: dict[str, Pin] = {}
    current: Pin | None = None
    for line in path.read_text().splitlines():
        stripped = line.strip()
        if match := _PIN.match(line):
            marker = match["marker"]
            current = Pin(match["name"], match["version"], Marker(marker) if marker else None)
            pins[canonicalize_name(current.name)] = current
        elif current and stripped.startswith("--hash="):
            current.hashes.append(stripped.removeprefix("--hash=").rstrip(" \\"))
        elif current and stripped.startswith("# via"):
            if named := stripped.removeprefix("# via").strip():
                current.via.append(named)
        elif current and stripped.startswith("#   "):
            current.via.append(stripped.removeprefix("#").strip())
    return pins


@cache
def pyproject() -> dict[str, object]:
    """The parsed pyproject.toml."""
    with (ROOT / "pyproject.toml").open("rb") as file:
        return tomllib.load(file)


def declared(*, dev: bool) -> list[Requirement]:
    """The requirements pyproject.toml declares: runtime and build backend, plus the dev extra."""
    project = pyproject()["project"]
    build = pyproject()["build-system"]
    assert isinstance(project, dict) and isinstance(build, dict)
    texts = [*project["dependencies"], *build["requires"]]
    if dev:
        texts += project["optional-dependencies"]["dev"]
    return [Requirement(text) for text in texts]


LOCKS = [pytest.param(RUNTIME_LOCK, False, id="runtime"), pytest.param(DEV_LOCK, True, id="dev")]


@pytest.mark.parametrize(("lock", "dev"), LOCKS)
def test_every_declared_requirement_is_locked_at_a_version_it_allows(lock: Path, dev: bool) -> None:
    pins = read_lock(lock)
    problems = []
    for requirement in declared(dev=dev):
        pin = pins.get(canonicalize_name(requirement.name))
        if pin is None:
            problems.append(f"{requirement} is declared but not locked")
        elif not requirement.specifier.contains(pin.version, prereleases=True):
            problems.append(f"{requirement} is declared but {pin.name}=={pin.version} is locked")
    assert not problems, f"{lock.name} is stale, run `make lock`: " + "; ".join(problems)


@pytest.mark.parametrize(("lock", "dev"), LOCKS)
def test_the_lock_was_resolved_from_what_pyproject_declares_now(lock: Path, dev: bool) -> None:
    build = pyproject()["build-system"]
    assert isinstance(build, dict)
    backend = {canonicalize_name(Requirement(text).name) for text in build["requires"]}
    names = {canonicalize_name(requirement.name) for requirement in declared(dev=dev)} - backend
    resolved_for = {key for key, pin in read_lock(lock).items() if FROM_PYPROJECT in pin.via}
    gone, new = sorted(resolved_for - names), sorted(names - resolved_for)
    assert resolved_for == names, (
        f"{lock.name} was resolved for other requirements than pyproject.toml declares "
        f"(no longer declared: {gone}; newly declared: {new}): run `make lock`"
    )


@pytest.mark.parametrize("lock", [RUNTIME_LOCK, DEV_LOCK], ids=["runtime", "dev"])
def test_every_pin_is_exact_and_hash_checked(lock: Path) -> None:
    pins = read_lock(lock)
    assert len(pins) > 40
    unhashed = [pin.name for pin in pins.values() if not pin.hashes]
    assert not unhashed
    assert all(hash_.startswith("sha256:") for pin in pins.values() for hash_ in pin.hashes)


def test_the_image_runs_the_runtime_versions_the_suite_tested() -> None:
    runtime, dev = read_lock(RUNTIME_LOCK), read_lock(DEV_LOCK)
    differ = {
        name: (pin.version, dev[name].version if name in dev else None)
        for name, pin in runtime.items()
        if name not in dev or dev[name].version != pin.version
    }
    assert not differ, f"runtime and dev locks disagree: {differ}"


def test_this_environment_has_exactly_the_locked_versions() -> None:
    wrong = {}
    for pin in read_lock(DEV_LOCK).values():
        if not pin.applies_here():
            continue
        try:
            installed = importlib.metadata.version(pin.name)
        except importlib.metadata.PackageNotFoundError:
            installed = "missing"
        if installed != pin.version:
            wrong[pin.name] = f"locked {pin.version}, installed {installed}"
    assert not wrong, f"the environment differs from requirements-dev.lock (rerun make): {wrong}"


def _install_lines(text: str) -> list[str]:
    """The `pip install` commands of a Dockerfile or Makefile, continuation lines joined."""
    joined = text.replace("\\\n", " ")
    return [line.strip() for line in joined.splitlines() if "pip install" in line]


@pytest.mark.parametrize(
    ("recipe", "lock_argument"),
    [("Dockerfile", "-r requirements.lock"), ("Makefile", "-r $(DEV_LOCK)")],
    ids=["docker-image-runtime-lock", "make-dev-lock"],
)
def test_installs_come_from_a_lock_without_resolving(recipe: str, lock_argument: str) -> None:
    installs = _install_lines((ROOT / recipe).read_text())
    assert len(installs) == 2, installs
    locked, project = installs
    assert "--require-hashes" in locked and "--no-deps" in locked and lock_argument in locked
    assert "--no-deps" in project and "--no-build-isolation" in project


def test_the_docker_image_copies_the_runtime_lock() -> None:
    assert "COPY requirements.lock" in (ROOT / "Dockerfile").read_text()
