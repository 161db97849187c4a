"""The front server's section (front/settings.py): ports, address, domain, TLS, its image. Every bad value
is refused naming the key."""

from __future__ import annotations

from components.settings import parse
from tests.support.stack_values import CERT, SECRETS, refusals, remote

# (stack, config, key named in the error, a fragment of what is accepted)
BAD = [
    ("staging", remote(frontImageRepository="caddy:2"), "frontImageRepository", "such as caddy"),
    ("staging", remote(httpsPort="0"), "httpsPort", "from 1 to 65535"),
    ("staging", remote(httpsPort="65536"), "httpsPort", "from 1 to 65535"),
    ("staging", remote(httpPort="-1"), "httpPort", "from 0 to 65535"),
    ("staging", remote(httpPort="443"), "httpPort", "must differ from httpsPort"),
    ("staging", remote(maxUploadMb="0"), "maxUploadMb", "from 1"),
    ("staging", remote(domain="not a name"), "domain", "DNS name"),
    ("staging", remote(tls="self-signed"), "tls", "one of internal, acme, supplied"),
    ("staging", remote(tls="acme", sshHost="10.0.0.5"), "domain", "ACME needs a public DNS name"),
    ("staging", remote(tls="acme", domain="pypi.corp.internal"), "domain", "ACME needs a public DNS name"),
    ("staging", remote(tls="acme", domain="pypi.example.com", acmeEmail="nobody"), "acmeEmail", "e-mail address"),
    ("staging", remote(tls="supplied"), "tlsCertificate", "PEM certificate chain"),
    ("staging", remote(tls="supplied", tlsCertificate=CERT), "tlsKey", "PEM private key"),
    ("staging", remote(tlsCertificate=CERT), "tlsCertificate", "only used with tls: supplied"),
    ("staging", remote(frontImageTag="latest"), "frontImageTag", "Caddy release"),
    ("staging", remote(frontImageTag="2"), "frontImageTag", "Caddy release"),
    ("staging", remote(frontImageDigest="sha256:xyz"), "frontImageDigest", "64 lowercase hex"),
    ("staging", remote(bindAddress="everywhere"), "bindAddress", "IP address"),
    ("staging", remote(publicUrl="http://user:pw@host/"), "publicUrl", "without credentials"),
]


test_bad_value_names_key_and_what_is_accepted = refusals(BAD)


def test_tls_modes():
    acme = parse(remote(tls="acme", domain="pypi.example.com", acmeEmail="ops@example.com"), "production", SECRETS)
    assert acme.front.tls == "acme" and acme.front.public_url == "https://pypi.example.com" and acme.front.hsts
    key = "-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----\n"
    supplied = parse(remote(tls="supplied", tlsCertificate=CERT, tlsKey=key, httpsPort="8443"), "staging", SECRETS)
    assert (
        supplied.front.tls_key == key.strip()
        and supplied.front.public_url == "https://pypi.internal.example:8443"
        and not supplied.front.hsts
    )
    assert key not in repr(supplied)
