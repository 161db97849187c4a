"""The front server's settings: ports, bind address, domain, TLS, the public URL and its image."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from typing import Any

from .values import DIGEST, FRONT_TAG, HOST_NAME, TLS_MODES, ConfigError, _choice, _int, _show, _str


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


def _parse_fallback_url(values: Mapping[str, Any]) -> str | None:
    fallback_url = _str(values, "fallbackUrl")
    # Host, port and path only: the URL is written into the Caddyfile, where braces and quotes mean
    # something, and into pypiserver's arguments.
    if fallback_url and not re.match(r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~/%+-]*)?$", fallback_url):
        raise ConfigError(
            "fallbackUrl", _show(fallback_url), "expected an http(s) URL, or leave it unset to disable the fallback"
        )
    return fallback_url
