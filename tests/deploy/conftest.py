"""The scale-out stack's files, loaded once: docker/*.py as modules (docker/ is not a package: the
image runs them as scripts) and docker-compose.yml parsed, then interpolated with a distinct
placeholder for every required variable, as Compose would with a complete .env."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


def load_docker_module(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"mes_hub_docker_{name}", REPO_ROOT / "docker" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def check_compose() -> ModuleType:
    return load_docker_module("check_compose")


@pytest.fixture(scope="session")
def new_env() -> ModuleType:
    return load_docker_module("new_env")


@pytest.fixture(scope="session")
def init_stack() -> ModuleType:
    return load_docker_module("init_stack")


@pytest.fixture(scope="session")
def raw_compose(check_compose) -> dict[str, Any]:
    """docker-compose.yml as written (anchors and merge keys resolved), before interpolation."""
    return check_compose.load_yaml(check_compose.COMPOSE_FILE)


@pytest.fixture(scope="session")
def dummy_env(check_compose, raw_compose) -> dict[str, str]:
    return check_compose.dummy_environment(raw_compose)


@pytest.fixture(scope="session")
def compose(check_compose, raw_compose, dummy_env) -> dict[str, Any]:
    """The interpolated file; shared, so tests that change it work on a deep copy."""
    return check_compose.interpolate_tree(raw_compose, dummy_env)


@pytest.fixture(scope="session")
def services(compose) -> dict[str, dict[str, Any]]:
    return compose["services"]
