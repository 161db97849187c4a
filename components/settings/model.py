"""The validated settings, as the rest of the program reads them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ..store.backup_settings import BackupSettings
from .values import PRODUCTION_STACK


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
