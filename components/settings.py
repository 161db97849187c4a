"""The stack's settings: read once, validated before any resource is registered.

`parse()` is pure (a mapping of config values in, a frozen `Settings` out) so every rule is tested
as a table; `load()` is the thin Pulumi-facing wrapper. A bad value raises `ConfigError` naming the
key, the value (never a secret's) and what is accepted.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from .host.keys import HostKeyError, check_host_key
from .store import backup_settings
from .store.backup_settings import BackupConfigError, BackupSettings, parse_backup

PROJECT = "pypi-index"

TARGETS = ("local", "ssh")
ACTIONS = ("update", "download", "list")
SERVERS = ("gunicorn", "gevent", "auto")
TLS_MODES = ("internal", "acme", "supplied")
PRODUCTION_STACK = "production"

# A release tag such as v2.4.1: floating tags (latest, unstable, v2.4) move under a running index.
RELEASE_TAG = re.compile(r"^v\d+\.\d+\.\d+$")
FRONT_TAG = re.compile(r"^\d+\.\d+\.\d+$")
DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
USER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
HOST_NAME = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)
VOLUME_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")

MIN_PASSWORD = 12
# bcrypt only reads the first 72 bytes: a longer password would silently match its own prefix.
MAX_PASSWORD_BYTES = 72

# The image's passlib (1.7.4) verifies bcrypt at any cost from 4 to 31; above 14 each request
# takes seconds of CPU, because pypiserver verifies the hash on every authenticated request.
MIN_ROUNDS, MAX_ROUNDS = 4, 14


class ConfigError(ValueError):
    """A config value that the program refuses, with the key and what it accepts."""

    def __init__(self, key: str, shown: str, accepted: str):
        self.key = key
        super().__init__(f"config {PROJECT}:{key}: got {shown}; {accepted}")


class EnvironmentConflict(ValueError):
    """An environment variable that would make the deployment reach a different engine than configured."""


@dataclass(frozen=True)
class SshSettings:
    """How to reach a remote host. Absent for the `local` target."""

    host: str
    """Address or DNS name of the host."""
    port: int
    """sshd port."""
    user: str
    """Login user: needs passwordless sudo on the host."""
    host_key: str | None
    """The host's public key (`ssh-ed25519 AAAA...`), pinned on both SSH paths."""
    skip_host_key_check: bool
    """Explicit opt-out of host key verification; production refuses it."""
    private_key: str | None = field(default=None, repr=False)
    """Private key for pulumi-command (secret); otherwise both paths use the SSH agent."""


@dataclass(frozen=True)
class Settings:
    """Everything the program needs from the stack's config, validated."""

    stack: str
    target: str
    """`local` (this machine's Docker, supervised by Docker) or `ssh` (a host supervised by systemd)."""
    ssh: SshSettings | None
    docker_host: str | None
    """Docker endpoint for the `local` target; None means Docker's own default."""
    image_repository: str
    image_tag: str
    image_digest: str | None
    https_port: int
    """Host port of the front server's HTTPS listener."""
    http_port: int
    """Host port of its plain-HTTP listener, which only redirects to HTTPS; 0 for none."""
    bind_address: str
    domain: str
    """The name on the certificate (and in the URLs clients use)."""
    tls: str
    """`internal` (the front server's own CA), `acme` (a public CA), or `supplied` (certificate in config)."""
    acme_email: str | None
    tls_certificate: str | None
    """PEM certificate chain for `supplied` (public)."""
    tls_key: str | None = field(repr=False)
    """PEM private key for `supplied` (secret)."""
    public_url: str
    """Base URL clients use, without a trailing slash."""
    max_upload_mb: int
    front_image_repository: str
    front_image_tag: str
    front_image_digest: str | None
    authenticate: tuple[str, ...]
    """Protected actions; empty means no authentication at all (`-a . -P .`)."""
    users: Mapping[str, str] = field(repr=False)
    """User name -> password (secret: never printed)."""
    uploaders: tuple[str, ...]
    """The users who may upload (every user, unless the config names some); the others only read."""
    yanked: Mapping[str, Mapping[str, str]]
    """PEP 592: normalised project -> version -> reason ("" for none). The files stay; pages mark them."""
    bcrypt_rounds: int
    allow_overwrite: bool
    fallback_url: str | None
    server: str
    memory_mb: int
    health_timeout_seconds: int
    protect_packages: bool
    packages_volume: str
    auth_volume: str
    container_name: str
    backup: BackupSettings | None
    """Scheduled encrypted off-host backups (required in production), or None."""

    @property
    def production(self) -> bool:
        return self.stack == PRODUCTION_STACK

    @property
    def hsts(self) -> bool:
        """Strict-Transport-Security in production: browsers and clients never fall back to HTTP."""
        return self.production

    @property
    def front_image_ref(self) -> str:
        ref = f"{self.front_image_repository}:{self.front_image_tag}"
        return f"{ref}@{self.front_image_digest}" if self.front_image_digest else ref

    @property
    def image_ref(self) -> str:
        """The image as Docker names it: tag always, digest when pinned."""
        ref = f"{self.image_repository}:{self.image_tag}"
        return f"{ref}@{self.image_digest}" if self.image_digest else ref


def _show(value: Any) -> str:
    return json.dumps(value) if not isinstance(value, str) else repr(value)


def _int(values: Mapping[str, Any], key: str, default: int, low: int, high: int) -> int:
    raw = values.get(key, default)
    if isinstance(raw, str) and re.fullmatch(r"\s*-?\d+\s*", raw):
        number: int | None = int(raw)
    elif isinstance(raw, int) and not isinstance(raw, bool):
        number = raw
    else:
        number = None
    if number is None or not low <= number <= high:
        raise ConfigError(key, _show(raw), f"expected a whole number from {low} to {high}")
    return number


def _bool(values: Mapping[str, Any], key: str, default: bool) -> bool:
    raw = values.get(key, default)
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    raise ConfigError(key, _show(raw), "expected true or false")


def _str(values: Mapping[str, Any], key: str, default: str | None = None) -> str | None:
    raw = values.get(key, default)
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise ConfigError(key, _show(raw), "expected a string")
    return raw.strip() or None


def _choice(values: Mapping[str, Any], key: str, default: str, choices: tuple[str, ...]) -> str:
    raw = _str(values, key, default)
    if raw not in choices:
        raise ConfigError(key, _show(raw), f"expected one of {', '.join(choices)}")
    return raw


def _list(values: Mapping[str, Any], key: str, default: list[str]) -> list[Any]:
    raw = values.get(key, default)
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError:
            raw = [part.strip() for part in raw.split(",") if part.strip()]
    if not isinstance(raw, list):
        raise ConfigError(key, _show(raw), "expected a list")
    return raw


# The committed stack files use these ranges (RFC 5737) as placeholders for the operator's host.
DOCUMENTATION_NETS = backup_settings.DOCUMENTATION_NETS


def _host(key: str, raw: str | None) -> str:
    if not raw:
        raise ConfigError(key, "nothing", "the ssh target needs the host's address or DNS name")
    try:
        address = ipaddress.ip_address(raw)
    except ValueError:
        address = None
    if address is not None:
        if any(address in net for net in DOCUMENTATION_NETS):
            raise ConfigError(key, _show(raw), "that is a documentation placeholder: set your host's address")
        return raw
    if not HOST_NAME.match(raw):
        raise ConfigError(key, _show(raw), "expected an IP address or a DNS name")
    return raw


def _parse_ssh(values: Mapping[str, Any], production: bool) -> SshSettings:
    host = _host("sshHost", _str(values, "sshHost"))
    user = _str(values, "sshUser", "deploy")
    if not user or not USER_NAME.match(user):
        raise ConfigError("sshUser", _show(user), "expected a login name such as deploy")
    host_key = _str(values, "sshHostKey")
    if host_key:
        try:
            host_key = check_host_key(host_key)  # a trailing comment is not part of the key
        except HostKeyError as error:
            shown = host_key[:40] + ("..." if len(host_key) > 40 else "")
            raise ConfigError(
                "sshHostKey", _show(shown), f"this is not a host key that can be pinned: {error}"
            ) from None
    skip = _bool(values, "insecureSkipHostKeyCheck", False)
    if not host_key and not skip:
        raise ConfigError(
            "sshHostKey",
            "nothing",
            "pin the host's key (ssh-ed25519 AAAA...), or set insecureSkipHostKeyCheck: true outside production",
        )
    if skip and production:
        raise ConfigError(
            "insecureSkipHostKeyCheck", "true", "production always verifies the host key: set it to false"
        )
    if host_key and skip:
        raise ConfigError(
            "insecureSkipHostKeyCheck", "true", "set either sshHostKey or insecureSkipHostKeyCheck, not both"
        )
    private_key = _str(values, "sshPrivateKey")
    if private_key and "PRIVATE KEY" not in private_key:
        raise ConfigError("sshPrivateKey", "(secret)", "expected an OpenSSH or PEM private key")
    return SshSettings(
        host=host,
        port=_int(values, "sshPort", 22, 1, 65535),
        user=user,
        host_key=host_key,
        skip_host_key_check=skip,
        private_key=private_key,
    )


def _parse_users(values: Mapping[str, Any], users_secret: bool) -> dict[str, str]:
    raw = values.get("users", {})
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError:
            raise ConfigError("users", "(secret)", "expected an object of user name -> password") from None
    if not isinstance(raw, dict):
        raise ConfigError("users", "(secret)", "expected an object of user name -> password")
    if raw and not users_secret:
        raise ConfigError(
            "users",
            "a value stored in clear",
            "set passwords with `pulumi config set --secret --path 'users.NAME' PASSWORD`",
        )
    users: dict[str, str] = {}
    for name, password in raw.items():
        if not isinstance(name, str) or not USER_NAME.match(name):
            raise ConfigError(
                "users",
                f"user name {_show(name)}",
                "user names are 1-64 letters, digits, '.', '_', '-' or '@' (no ':' or spaces)",
            )
        if not isinstance(password, str) or len(password) < MIN_PASSWORD:
            raise ConfigError(
                f"users.{name}",
                "(secret) an empty or short password",
                f"passwords need at least {MIN_PASSWORD} characters",
            )
        if len(password.encode()) > MAX_PASSWORD_BYTES:
            raise ConfigError(
                f"users.{name}",
                "(secret) a password over 72 bytes",
                f"bcrypt reads at most {MAX_PASSWORD_BYTES} bytes: use a shorter password",
            )
        users[name] = password
    return users


def _parse_uploaders(values: Mapping[str, Any], users: Mapping[str, str]) -> tuple[str, ...]:
    """`uploaders`: who may upload; [] (the default) means every user. Sorted, so order is no change."""
    if not users:
        return ()  # nobody logs in: `uploaders` does nothing, and ONLY_USED_WITH says so
    raw = _list(values, "uploaders", [])
    for name in raw:
        if not isinstance(name, str) or name not in users:
            raise ConfigError(
                "uploaders",
                _show(name),
                f"uploaders are names from users ({', '.join(sorted(users)) or 'none configured'}); [] lets every user upload",
            )
    return tuple(sorted(set(raw))) if raw else tuple(sorted(users))


YANK = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*==\s*([A-Za-z0-9][A-Za-z0-9.+!_-]*)\s*(?::\s*(.*?))?\s*$")


def _parse_yanked(values: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """`yanked`: ["name==version: reason", ...] (the reason is optional), keyed by PEP 503 name."""
    yanked: dict[str, dict[str, str]] = {}
    for entry in _list(values, "yanked", []):
        match = YANK.match(entry) if isinstance(entry, str) else None
        reason = match.group(3) or "" if match else ""
        if not match or len(reason) > 300 or any(c in reason for c in "\r\n"):
            raise ConfigError(
                "yanked",
                _show(entry),
                "entries are 'name==version' or 'name==version: reason' (one line, 300 characters)",
            )
        name = re.sub(r"[-_.]+", "-", match.group(1)).lower()
        yanked.setdefault(name, {})[match.group(2)] = reason
    return yanked


def _parse_authenticate(values: Mapping[str, Any]) -> tuple[str, ...]:
    raw = _list(values, "authenticate", list(ACTIONS))
    actions = []
    for action in raw:
        if action not in ACTIONS:
            raise ConfigError(
                "authenticate", _show(action), f"protected actions are {', '.join(ACTIONS)} (a list; [] for none)"
            )
        if action not in actions:
            actions.append(action)
    # pypiserver's order, so the rendered arguments never change with the config's order.
    return tuple(a for a in ACTIONS if a in actions)


def _parse_image(values: Mapping[str, Any]) -> tuple[str, str, str | None]:
    repository = _str(values, "imageRepository", "pypiserver/pypiserver")
    if not repository or not re.match(
        r"^[a-z0-9]+([._/-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)*$", repository
    ):
        raise ConfigError(
            "imageRepository", _show(repository), "expected an image repository such as pypiserver/pypiserver"
        )
    tag = _str(values, "imageTag", "v2.4.1")
    if not tag or not RELEASE_TAG.match(tag):
        raise ConfigError(
            "imageTag", _show(tag), "expected a release tag such as v2.4.1 (latest, unstable and vX.Y float)"
        )
    digest = _str(values, "imageDigest")
    if digest and not DIGEST.match(digest):
        raise ConfigError("imageDigest", _show(digest), "expected sha256: followed by 64 lowercase hex digits")
    return repository, tag, digest


def _parse_bind_address(values: Mapping[str, Any]) -> str:
    raw = _str(values, "bindAddress", "127.0.0.1") or ""
    try:
        return str(ipaddress.ip_address(raw))
    except ValueError:
        raise ConfigError(
            "bindAddress", _show(raw), "expected an IP address of the host, e.g. 127.0.0.1 or 0.0.0.0"
        ) from None


def _parse_public_url(values: Mapping[str, Any], domain: str, port: int) -> str:
    raw = _str(values, "publicUrl")
    if raw is None:
        host = f"[{domain}]" if ":" in domain else domain
        return f"https://{host}" + ("" if port == 443 else f":{port}")
    if not re.match(r"^https?://[^\s/?#@]+(/[^\s?#@]*)?$", raw):
        raise ConfigError(
            "publicUrl", _show(raw), "expected an http(s) URL without credentials, e.g. http://pypi.example.com:8080"
        )
    return raw.rstrip("/")


def _parse_volume(values: Mapping[str, Any], key: str, default: str) -> str:
    raw = _str(values, key, default)
    if not raw or not VOLUME_NAME.match(raw):
        raise ConfigError(key, _show(raw), "expected a Docker name: letters, digits, '_', '.', '-'")
    return raw


def _parse_tls(values: Mapping[str, Any], domain: str) -> tuple[str, str | None, str | None, str | None]:
    mode = _choice(values, "tls", "internal", TLS_MODES)
    email = _str(values, "acmeEmail")
    certificate, key = _str(values, "tlsCertificate"), _str(values, "tlsKey")
    if mode == "acme":
        try:
            ipaddress.ip_address(domain)
            public_name = False
        except ValueError:
            public_name = "." in domain and not domain.endswith((".local", ".internal", ".test", ".localhost"))
        if not public_name:
            raise ConfigError(
                "domain",
                _show(domain),
                "ACME needs a public DNS name pointing at the host; use tls: internal otherwise",
            )
        if email and not re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", email):
            raise ConfigError("acmeEmail", _show(email), "expected an e-mail address for the ACME account")
    if mode == "supplied":
        if not certificate or "BEGIN CERTIFICATE" not in certificate:
            raise ConfigError("tlsCertificate", "nothing" if not certificate else "(not a PEM certificate)",
                              "tls: supplied needs the PEM certificate chain (pulumi config set tlsCertificate < chain.pem)")  # fmt: skip
        if not key or "PRIVATE KEY" not in key:
            raise ConfigError("tlsKey", "(secret)", "tls: supplied needs the PEM private key, set as a secret "
                              "(pulumi config set --secret tlsKey < key.pem)")  # fmt: skip
    return mode, email, certificate, key


def _parse_domain(values: Mapping[str, Any], default: str) -> str:
    raw = _str(values, "domain") or default
    try:
        ipaddress.ip_address(raw)
        return raw
    except ValueError:
        pass
    if not HOST_NAME.match(raw):
        raise ConfigError("domain", _show(raw), "expected a DNS name (or an IP address) for the certificate")
    return raw.lower()


def _check_environment(environment: Mapping[str, str]) -> None:
    """The Docker provider reads DOCKER_CONTEXT from its environment, and a context beats its `host`
    (kreuzwerker/terraform-provider-docker, internal/provider/provider.go, `configure`): containers
    would go to the context's engine while every shell step goes to sshHost (or DOCKER_HOST)."""
    context = environment.get("DOCKER_CONTEXT", "")
    if context:
        raise EnvironmentConflict(
            f"environment variable DOCKER_CONTEXT={context!r} would send the Docker resources to that "
            "context's engine instead of the one this stack configures, while its shell steps go elsewhere: "
            "unset DOCKER_CONTEXT (for the local target, set dockerHost to the engine you want)"
        )


def reachable_address(bind_address: str) -> str:
    """Where ports published on `bind_address` answer on the machine itself: the address, or loopback
    for the wildcards (the health gate connects there; a local stack's default domain is it)."""
    return "127.0.0.1" if bind_address in ("0.0.0.0", "::") else bind_address


def _parse_target(values: Mapping[str, Any], production: bool) -> tuple[str, SshSettings | None, str | None]:
    """Where the index runs: (target, its SSH settings, the local engine's address if not the default)."""
    target = _choice(values, "target", "local", TARGETS)
    if production and target != "ssh":
        raise ConfigError("target", _show(target), "production deploys to a remote host: set target to ssh")
    ssh = _parse_ssh(values, production) if target == "ssh" else None
    docker_host = _str(values, "dockerHost") if target == "local" else None
    if docker_host and not re.match(r"^(unix|tcp|npipe)://\S+$", docker_host):
        raise ConfigError("dockerHost", _show(docker_host), "expected unix:///path, tcp://host:port or npipe://...")
    return target, ssh, docker_host


def _parse_ports(values: Mapping[str, Any]) -> tuple[int, int]:
    https_port = _int(values, "httpsPort", 443, 1, 65535)
    http_port = _int(values, "httpPort", 80, 0, 65535)
    if http_port == https_port:
        raise ConfigError("httpPort", _show(http_port), "must differ from httpsPort (0 for no plain-HTTP redirect)")
    return https_port, http_port


def _parse_front_image(values: Mapping[str, Any]) -> tuple[str, str, str | None]:
    front_repository = _str(values, "frontImageRepository", "caddy") or ""
    if not re.match(r"^[a-z0-9]+([._/-][a-z0-9]+)*$", front_repository):
        raise ConfigError("frontImageRepository", _show(front_repository), "expected an image repository such as caddy")
    front_tag = _str(values, "frontImageTag", "2.11.7") or ""
    if not FRONT_TAG.match(front_tag):
        raise ConfigError(
            "frontImageTag", _show(front_tag), "expected a Caddy release such as 2.11.7 (latest and 2 float)"
        )
    front_digest = _str(values, "frontImageDigest")
    if front_digest and not DIGEST.match(front_digest):
        raise ConfigError(
            "frontImageDigest", _show(front_digest), "expected sha256: followed by 64 lowercase hex digits"
        )
    return front_repository, front_tag, front_digest


def _parse_access(
    values: Mapping[str, Any], users_secret: bool
) -> tuple[tuple[str, ...], dict[str, str], tuple[str, ...]]:
    """(what is protected, the users and their passwords, who may upload), consistent with each other."""
    authenticate = _parse_authenticate(values)
    users = _parse_users(values, users_secret)
    if authenticate and not users:
        raise ConfigError(
            "users",
            "no users",
            f"authenticate protects {', '.join(authenticate)}: add a user with "
            "`pulumi config set --secret --path 'users.NAME' PASSWORD`, or set authenticate to []",
        )
    if users and not authenticate:
        raise ConfigError(
            "authenticate", "[]", "users are configured but nothing is protected: list the actions to protect"
        )
    return authenticate, users, _parse_uploaders(values, users)


def _parse_server(values: Mapping[str, Any], production: bool) -> tuple[str, bool]:
    """pypiserver's server and whether the package volume is protected (production insists on both)."""
    server = _choice(values, "server", "gunicorn", SERVERS)
    if production and server != "gunicorn":
        # The upload guard and the upload audit are gunicorn hooks (components/in_container/gunicorn_conf.py).
        raise ConfigError("server", _show(server), "production runs gunicorn: the upload guard and audit need it")
    protect_packages = _bool(values, "protectPackages", True)
    if production and not protect_packages:
        raise ConfigError("protectPackages", "false", "production always protects and retains the package volume")
    return server, protect_packages


def _parse_fallback_url(values: Mapping[str, Any]) -> str | None:
    fallback_url = _str(values, "fallbackUrl")
    # Host, port and path only: the URL is written into the Caddyfile, where braces and quotes mean
    # something, and into pypiserver's arguments.
    if fallback_url and not re.match(r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~/%+-]*)?$", fallback_url):
        raise ConfigError(
            "fallbackUrl", _show(fallback_url), "expected an http(s) URL, or leave it unset to disable the fallback"
        )
    return fallback_url


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


# Keys that may hold a secret: Pulumi.yaml cannot declare them (a secret cannot have a default there).
SECRET_KEYS = ("users", "sshPrivateKey", "tlsKey", "backupPassword", "backupSshKey", "backupRepository")
# Every key the program reads; Pulumi.yaml declares the same set, less SECRET_KEYS (a test keeps them in step).
KEYS = (
    "target",
    "sshHost",
    "sshPort",
    "sshUser",
    "sshHostKey",
    "insecureSkipHostKeyCheck",
    "sshPrivateKey",
    "dockerHost",
    "imageRepository",
    "imageTag",
    "imageDigest",
    "httpsPort",
    "httpPort",
    "domain",
    "tls",
    "acmeEmail",
    "tlsCertificate",
    "tlsKey",
    "maxUploadMb",
    "frontImageRepository",
    "frontImageTag",
    "frontImageDigest",
    "bindAddress",
    "publicUrl",
    "authenticate",
    "users",
    "uploaders",
    "yanked",
    "bcryptRounds",
    "allowOverwrite",
    "fallbackUrl",
    "server",
    "memoryMb",
    "healthTimeoutSeconds",
    "protectPackages",
    "packagesVolume",
    "authVolume",
    "containerName",
    *backup_settings.KEYS,
)


# Keys that only some configurations read, with where they are read: set anywhere else, one would do
# nothing, silently, so it is refused there instead, saying where it is used.
ONLY_USED_WITH: tuple[tuple[tuple[str, ...], Callable[[Settings], bool], str], ...] = (
    (("acmeEmail",), lambda s: s.tls == "acme", "tls: acme"),
    (("tlsCertificate", "tlsKey"), lambda s: s.tls == "supplied", "tls: supplied"),
    (
        ("sshHost", "sshPort", "sshUser", "sshHostKey", "insecureSkipHostKeyCheck", "sshPrivateKey"),
        lambda s: s.target == "ssh",
        "target: ssh",
    ),
    (("dockerHost",), lambda s: s.target == "local", "target: local (an ssh target reaches Docker through sshHost)"),
    (("uploaders", "bcryptRounds", "authVolume"), lambda s: bool(s.users), "users (and the actions they protect)"),
    (
        tuple(k for k in backup_settings.KEYS if k not in ("backupRepository", *backup_settings.SFTP_KEYS)),
        lambda s: s.backup is not None,
        "backupRepository",
    ),
    (
        backup_settings.SFTP_KEYS,
        lambda s: s.backup is not None and s.backup.sftp is not None,
        "an sftp: backupRepository",
    ),
)


@cache
def declared_defaults() -> Mapping[str, Any]:
    """The defaults Pulumi.yaml declares. Pulumi hands the program every declared key, with its default
    where the stack sets none: a value equal to it was not set by anyone."""
    import yaml

    project = yaml.safe_load((Path(__file__).resolve().parents[1] / "Pulumi.yaml").read_text())
    return {key: spec.get("default") for key, spec in (project.get("config") or {}).items()}


def _is_set(values: Mapping[str, Any], key: str) -> bool:
    value = values.get(key)
    if value is None or value == "" or value == [] or value == {}:
        return False
    defaults = declared_defaults()
    return key not in defaults or value != defaults[key]


def _refuse_what_does_nothing(values: Mapping[str, Any], settings: Settings) -> None:
    for keys, used, where in ONLY_USED_WITH:
        if used(settings):
            continue
        for key in keys:
            if _is_set(values, key):
                shown = "(secret)" if key in SECRET_KEYS else _show(values[key])
                raise ConfigError(key, shown, f"only used with {where}: remove it from this stack's config")
