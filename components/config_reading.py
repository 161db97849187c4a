"""Reading config values: the error every refusal raises, the typed readers, and the shared rules
(names, tags, digests, limits) more than one part's settings check against.

Each part's settings section (host/settings.py, store/settings.py, ...) reads its keys with these;
components/settings/ composes the sections. This module imports nothing of the program, so every
section can import it without a cycle.
"""

from __future__ import annotations

import functools
import ipaddress
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

PROJECT = "pypi-index"

PRODUCTION_STACK = "production"

DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")

# A release number as Caddy and restic tag their images (2.11.7, 0.18.0); `latest`, `2` or `2.11` float.
RELEASE_NUMBER = re.compile(r"^\d+\.\d+\.\d+$")

# An image repository, with an optional registry in front; a port only before a path (`caddy:2` is a
# repository and a tag, not a registry).
IMAGE_REPOSITORY = re.compile(
    r"^[a-z0-9]+([._/-][a-z0-9]+)*(:[0-9]+/[a-z0-9]+([._-][a-z0-9]+)*)?(/[a-z0-9]+([._-][a-z0-9]+)*)*$"
)

# Login names: the users of the index, and the SSH user on the host.
USER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")

HOST_NAME = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)

# RFC 5737 and 3849: what the committed stack files use as placeholders for the operator's hosts.
DOCUMENTATION_NETS = tuple(
    ipaddress.ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")
)

VOLUME_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class ConfigError(ValueError):
    """A config value that the program refuses, with the key and what it accepts."""

    def __init__(self, key: str, shown: str, accepted: str):
        self.key = key
        super().__init__(f"config {PROJECT}:{key}: got {shown}; {accepted}")


def show(value: Any) -> str:
    return json.dumps(value) if not isinstance(value, str) else repr(value)


def read_int(values: Mapping[str, Any], key: str, default: int, low: int, high: int) -> int:
    raw = values.get(key, default)
    if isinstance(raw, str) and re.fullmatch(r"\s*-?\d+\s*", raw):
        number: int | None = int(raw)
    elif isinstance(raw, int) and not isinstance(raw, bool):
        number = raw
    else:
        number = None
    if number is None or not low <= number <= high:
        raise ConfigError(key, show(raw), f"expected a whole number from {low} to {high}")
    return number


def read_bool(values: Mapping[str, Any], key: str, default: bool) -> bool:
    raw = values.get(key, default)
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    raise ConfigError(key, show(raw), "expected true or false")


def read_str(values: Mapping[str, Any], key: str, default: str | None = None) -> str | None:
    raw = values.get(key, default)
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise ConfigError(key, show(raw), "expected a string")
    return raw.strip() or None


def read_choice(values: Mapping[str, Any], key: str, default: str, choices: tuple[str, ...]) -> str:
    raw = read_str(values, key, default)
    if raw not in choices:
        raise ConfigError(key, show(raw), f"expected one of {', '.join(choices)}")
    return raw


def read_list(values: Mapping[str, Any], key: str, default: list[str]) -> list[Any]:
    raw = values.get(key, default)
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError:
            raw = [part.strip() for part in raw.split(",") if part.strip()]
    if not isinstance(raw, list):
        raise ConfigError(key, show(raw), "expected a list")
    return raw


def read_docker_name(values: Mapping[str, Any], key: str, default: str) -> str:
    """A Docker volume or container name."""
    raw = read_str(values, key, default)
    if not raw or not VOLUME_NAME.match(raw):
        raise ConfigError(key, show(raw), "expected a Docker name: letters, digits, '_', '.', '-'")
    return raw


@dataclass(frozen=True)
class Image:
    """An image the deployment runs: a release tag always (floating tags move under a running index),
    a digest when pinned (the policy pack insists on one in production)."""

    repository: str
    tag: str
    digest: str | None

    @property
    def ref(self) -> str:
        """The image as Docker names it."""
        ref = f"{self.repository}:{self.tag}"
        return f"{ref}@{self.digest}" if self.digest else ref


def image_key(prefix: str, name: str) -> str:
    """The config key of an image's `name` (Repository, Tag or Digest): `<prefix>Image<name>`, or
    `image<name>` for pypiserver's, which has no prefix."""
    return f"{prefix}Image{name}" if prefix else f"image{name}"


def read_image(
    values: Mapping[str, Any], prefix: str, default: str, release: re.Pattern[str], release_example: str
) -> Image:
    """`<prefix>ImageRepository`, `<prefix>ImageTag`, `<prefix>ImageDigest` (`image...` with no prefix).
    `release`: the tags that name a release; `release_example` says which, in the error."""
    key = functools.partial(image_key, prefix)
    default_repository, default_tag = default.split(":")
    repository = read_str(values, key("Repository"), default_repository) or ""
    if not IMAGE_REPOSITORY.match(repository):
        raise ConfigError(
            key("Repository"), show(repository), f"expected an image repository such as {default_repository}"
        )
    tag = read_str(values, key("Tag"), default_tag) or ""
    if not release.match(tag):
        raise ConfigError(key("Tag"), show(tag), f"expected {release_example}")
    digest = read_str(values, key("Digest"))
    if digest and not DIGEST.match(digest):
        raise ConfigError(key("Digest"), show(digest), "expected sha256: followed by 64 lowercase hex digits")
    return Image(repository, tag, digest)
