"""A pytest plugin loaded (`-p`) into pypiserver's own image tests, `docker/test_docker.py` of a
release's sdist, when they run against our stand-in (test_official_image.py).

Their `image` fixture builds the image with `docker build --file <sdist>/Dockerfile`, which needs
Docker Hub (`python:3.10-alpine3.20`) and GitHub (gosu): unreachable here. This plugin changes one
thing, the module's `DOCKERFILE`, to a Dockerfile that is `FROM <the stand-in>`: the fixture's own
`docker build` then yields the stand-in itself. Every test, fixture and assertion is upstream's.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

DOCKERFILE_VARIABLE = "PYPI_INDEX_STAND_IN_DOCKERFILE"


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    dockerfile = Path(os.environ[DOCKERFILE_VARIABLE])
    modules = {item.module for item in items if isinstance(item, pytest.Function) and item.module is not None}
    for module in modules:
        assert hasattr(module, "DOCKERFILE"), f"{module.__name__} no longer builds from DOCKERFILE: read it again"
        module.DOCKERFILE = dockerfile
