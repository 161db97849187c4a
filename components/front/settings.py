"""The front server's section of the settings: ports, bind address, domain, TLS, the public URL, the
upload limit and its image."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..config_reading import (
    HOST_NAME,
    RELEASE_NUMBER,
    ConfigError,
    Image,
    read_choice,
    read_image,
    read_int,
    read_str,
    show,
)

TLS_MODES = ("internal", "acme", "supplied")
DEFAULT_IMAGE = "caddy:2.11.7"
IMAGE_PREFIX = "front"  # its keys: frontImageRepository, frontImageTag, frontImageDigest


def reachable_address(bind_address: str) -> str:
    """Where ports published on `bind_address` answer on the machine itself: the address, or loopback
    for the wildcards (the health gate connects there; a local stack's default domain is it)."""
    return "127.0.0.1" if bind_address in ("0.0.0.0", "::") else bind_address


@dataclass(frozen=True)
class FrontSettings:
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
    """The largest upload let through (Caddy's MB); the indexer keeps room for one."""
    image: Image
    hsts: bool
    """Strict-Transport-Security (production): browsers and clients never fall back to HTTP."""

    @property
    def address(self) -> str:
        """Where the published ports answer on the host itself (see reachable_address)."""
        return reachable_address(self.bind_address)


def parse_front(values: Mapping[str, Any], ssh_host: str | None, production: bool) -> FrontSettings:
    """The front section; `ssh_host` (the remote host's name, if any) is the default domain."""
    https_port, http_port = _parse_ports(values)
    bind_address = _parse_bind_address(values)
    domain = _parse_domain(values, ssh_host or reachable_address(bind_address))
    tls, acme_email, tls_certificate, tls_key = _parse_tls(values, domain)
    return FrontSettings(
        https_port=https_port,
        http_port=http_port,
        bind_address=bind_address,
        domain=domain,
        tls=tls,
        acme_email=acme_email,
        tls_certificate=tls_certificate,
        tls_key=tls_key,
        public_url=_parse_public_url(values, domain, https_port),
        max_upload_mb=read_int(values, "maxUploadMb", 1024, 1, 102400),
        image=read_image(
            values, IMAGE_PREFIX, DEFAULT_IMAGE, RELEASE_NUMBER, "a Caddy release such as 2.11.7 (latest and 2 float)"
        ),
        hsts=production,
    )


def _parse_bind_address(values: Mapping[str, Any]) -> str:
    raw = read_str(values, "bindAddress", "127.0.0.1") or ""
    try:
        return str(ipaddress.ip_address(raw))
    except ValueError:
        raise ConfigError(
            "bindAddress", show(raw), "expected an IP address of the host, e.g. 127.0.0.1 or 0.0.0.0"
        ) from None


def _parse_public_url(values: Mapping[str, Any], domain: str, port: int) -> str:
    raw = read_str(values, "publicUrl")
    if raw is None:
        host = f"[{domain}]" if ":" in domain else domain
        return f"https://{host}" + ("" if port == 443 else f":{port}")
    if not re.match(r"^https?://[^\s/?#@]+(/[^\s?#@]*)?$", raw):
        raise ConfigError(
            "publicUrl", show(raw), "expected an http(s) URL without credentials, e.g. http://pypi.example.com:8080"
        )
    return raw.rstrip("/")


def _parse_tls(values: Mapping[str, Any], domain: str) -> tuple[str, str | None, str | None, str | None]:
    mode = read_choice(values, "tls", "internal", TLS_MODES)
    email = read_str(values, "acmeEmail")
    certificate, key = read_str(values, "tlsCertificate"), read_str(values, "tlsKey")
    if mode == "acme":
        try:
            ipaddress.ip_address(domain)
            public_name = False
        except ValueError:
            public_name = "." in domain and not domain.endswith((".local", ".internal", ".test", ".localhost"))
        if not public_name:
            raise ConfigError(
                "domain",
                show(domain),
                "ACME needs a public DNS name pointing at the host; use tls: internal otherwise",
            )
        if email and not re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", email):
            raise ConfigError("acmeEmail", show(email), "expected an e-mail address for the ACME account")
    if mode == "supplied":
        if not certificate or "BEGIN CERTIFICATE" not in certificate:
            raise ConfigError("tlsCertificate", "nothing" if not certificate else "(not a PEM certificate)",
                              "tls: supplied needs the PEM certificate chain (pulumi config set tlsCertificate < chain.pem)")  # fmt: skip
        if not key or "PRIVATE KEY" not in key:
            raise ConfigError("tlsKey", "(secret)", "tls: supplied needs the PEM private key, set as a secret "
                              "(pulumi config set --secret tlsKey < key.pem)")  # fmt: skip
    return mode, email, certificate, key


def _parse_domain(values: Mapping[str, Any], default: str) -> str:
    raw = read_str(values, "domain") or default
    try:
        ipaddress.ip_address(raw)
        return raw
    except ValueError:
        pass
    if not HOST_NAME.match(raw):
        raise ConfigError("domain", show(raw), "expected a DNS name (or an IP address) for the certificate")
    return raw.lower()


def _parse_ports(values: Mapping[str, Any]) -> tuple[int, int]:
    https_port = read_int(values, "httpsPort", 443, 1, 65535)
    http_port = read_int(values, "httpPort", 80, 0, 65535)
    if http_port == https_port:
        raise ConfigError("httpPort", show(http_port), "must differ from httpsPort (0 for no plain-HTTP redirect)")
    return https_port, http_port
