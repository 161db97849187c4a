"""The stack's settings: read once, validated before any resource is registered.

`parse()` is pure (a mapping of config values in, a frozen `Settings` out) so every rule is tested
as a table; `load()` is the thin Pulumi-facing wrapper. A bad value raises `ConfigError` naming the
key, the value (never a secret's) and what is accepted.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ..store.backup_settings import BackupConfigError, BackupSettings, parse_backup
from .access import _parse_access, _parse_image, _parse_server, _parse_volume, _parse_yanked
from .connection import _check_environment, _parse_target, reachable_address
from .front import (
    _parse_bind_address,
    _parse_domain,
    _parse_fallback_url,
    _parse_front_image,
    _parse_ports,
    _parse_public_url,
    _parse_tls,
)
from .keys import KEYS, ONLY_USED_WITH, SECRET_KEYS, _refuse_what_does_nothing, declared_defaults
from .model import Settings, SshSettings
from .values import (
    ACTIONS,
    MAX_ROUNDS,
    MIN_PASSWORD,
    MIN_ROUNDS,
    PRODUCTION_STACK,
    PROJECT,
    ConfigError,
    EnvironmentConflict,
    _bool,
    _int,
    _show,
)

# What the rest of the program and the tests read from here; the parts live in the modules beside
# this one (values, model, connection, access, front, keys).
__all__ = [
    "ACTIONS", "KEYS", "MIN_PASSWORD", "ONLY_USED_WITH", "SECRET_KEYS", "ConfigError", "EnvironmentConflict",
    "Settings", "SshSettings", "declared_defaults", "load", "parse", "reachable_address",
]  # fmt: skip


def _parse_backup(
    values: Mapping[str, Any], secret_keys: frozenset[str], production: bool, target: str
) -> BackupSettings | None:
    try:
        backup = parse_backup(values, secret_keys, production)
    except BackupConfigError as error:
        raise ConfigError(error.key, error.shown, error.accepted) from None
    if backup is not None and target != "ssh":
        raise ConfigError("backupRepository", "(set)", "backups run under systemd on a remote host: target ssh")
    return backup


def parse(
    values: Mapping[str, Any],
    stack: str,
    secret_keys: frozenset[str] = frozenset(),
    environment: Mapping[str, str] | None = None,
) -> Settings:
    """Validate raw config values (key -> value, without the project prefix) into Settings.

    `environment` is the process environment the providers will inherit (only what changes where
    they connect is read)."""
    _check_environment(environment or {})
    production = stack == PRODUCTION_STACK
    target, ssh, docker_host = _parse_target(values, production)
    repository, tag, digest = _parse_image(values)
    https_port, http_port = _parse_ports(values)
    bind_address = _parse_bind_address(values)
    front_repository, front_tag, front_digest = _parse_front_image(values)
    authenticate, users, uploaders = _parse_access(values, "users" in secret_keys)
    yanked = _parse_yanked(values)
    if production and authenticate != ACTIONS:
        raise ConfigError("authenticate", _show(list(authenticate)), "production protects update, download and list")
    server, protect_packages = _parse_server(values, production)
    fallback_url = _parse_fallback_url(values)
    domain = _parse_domain(values, ssh.host if ssh else reachable_address(bind_address))
    tls, acme_email, tls_certificate, tls_key = _parse_tls(values, domain)
    backup = _parse_backup(values, secret_keys, production, target)
    settings = Settings(
        stack=stack,
        target=target,
        ssh=ssh,
        docker_host=docker_host,
        image_repository=repository,
        image_tag=tag,
        image_digest=digest,
        https_port=https_port,
        http_port=http_port,
        bind_address=bind_address,
        domain=domain,
        tls=tls,
        acme_email=acme_email,
        tls_certificate=tls_certificate,
        tls_key=tls_key,
        public_url=_parse_public_url(values, domain, https_port),
        max_upload_mb=_int(values, "maxUploadMb", 1024, 1, 102400),
        front_image_repository=front_repository,
        front_image_tag=front_tag,
        front_image_digest=front_digest,
        authenticate=authenticate,
        users=users,
        uploaders=uploaders,
        yanked=yanked,
        bcrypt_rounds=_int(values, "bcryptRounds", 10, MIN_ROUNDS, MAX_ROUNDS),
        allow_overwrite=_bool(values, "allowOverwrite", False),
        fallback_url=fallback_url,
        server=server,
        memory_mb=_int(values, "memoryMb", 256, 64, 65536),
        health_timeout_seconds=_int(values, "healthTimeoutSeconds", 90, 5, 1800),
        protect_packages=protect_packages,
        packages_volume=_parse_volume(values, "packagesVolume", "pypiserver-packages"),
        auth_volume=_parse_volume(values, "authVolume", "pypiserver-auth"),
        container_name=_parse_volume(values, "containerName", "pypiserver"),
        backup=backup,
    )
    _refuse_what_does_nothing(values, settings)
    return settings


def load() -> Settings:
    """Read this stack's config through Pulumi and validate it."""
    import os

    import pulumi
    from pulumi.runtime.config import get_config, is_config_secret

    prefix = f"{PROJECT}:"
    values: dict[str, Any] = {}
    secret_keys: set[str] = set()
    for key in KEYS:
        raw = get_config(prefix + key)
        if raw is None:
            continue
        values[key] = _decode(raw)
        if is_config_secret(prefix + key):
            secret_keys.add(key)
    # The providers run with the CLI's environment, which is this program's too.
    return parse(values, pulumi.get_stack(), frozenset(secret_keys), os.environ)


def _decode(raw: str) -> Any:
    """Config arrives as strings; objects, lists, numbers and booleans as their JSON text."""
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, TypeError):
        return raw
