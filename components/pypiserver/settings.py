"""pypiserver's section of the settings: its image, server, memory, overwrite and fallback rules."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..config_reading import ConfigError, Image, read_bool, read_choice, read_image, read_int, read_str, show

SERVERS = ("gunicorn", "gevent", "auto")

# A release tag such as v2.4.1: floating tags (latest, unstable, v2.4) move under a running index.
RELEASE_TAG = re.compile(r"^v\d+\.\d+\.\d+$")
DEFAULT_IMAGE = "pypiserver/pypiserver:v2.4.1"
IMAGE_PREFIX = ""  # its keys: imageRepository, imageTag, imageDigest


@dataclass(frozen=True)
class PypiserverSettings:
    image: Image
    server: str
    memory_mb: int
    allow_overwrite: bool
    fallback_url: str | None
    """Where a name missing here is redirected (the front server sends it there too); None for nowhere."""


def parse_pypiserver(values: Mapping[str, Any], production: bool) -> PypiserverSettings:
    image = read_image(
        values, IMAGE_PREFIX, DEFAULT_IMAGE, RELEASE_TAG,
        "a release tag such as v2.4.1 (latest, unstable and vX.Y float)",
    )  # fmt: skip
    server = read_choice(values, "server", "gunicorn", SERVERS)
    if production and server != "gunicorn":
        # The upload guard and the upload audit are gunicorn hooks (components/in_container/gunicorn_conf.py).
        raise ConfigError("server", show(server), "production runs gunicorn: the upload guard and audit need it")
    return PypiserverSettings(
        image=image,
        server=server,
        memory_mb=read_int(values, "memoryMb", 256, 64, 65536),
        allow_overwrite=read_bool(values, "allowOverwrite", False),
        fallback_url=_parse_fallback_url(values),
    )


def _parse_fallback_url(values: Mapping[str, Any]) -> str | None:
    fallback_url = read_str(values, "fallbackUrl")
    # Host, port and path only: the URL is written into the Caddyfile, where braces and quotes mean
    # something, and into pypiserver's arguments.
    if fallback_url and not re.match(r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~/%+-]*)?$", fallback_url):
        raise ConfigError(
            "fallbackUrl", show(fallback_url), "expected an http(s) URL, or leave it unset to disable the fallback"
        )
    return fallback_url
