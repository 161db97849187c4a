"""The front server's configuration (Caddy), the whole Caddyfile: global options, the site's TLS, HSTS,
access log and request limit, then its routes (routes.py) and the plain-HTTP redirect."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from ..settings.access import AccessSettings
from . import routes
from .layout import CERT_FILE, KEY_FILE
from .logins import Logins
from .metrics_routes import global_option, metrics_routes
from .settings import FrontSettings

# The access log: the journal (the container's stderr), and only uploads and removals (the benchmark
# widens it to every request, bench/resolve.py).
ACCESS_LOG_OUTPUT = "\t\toutput stderr"
ACCESS_LOG_ONLY_UPLOADS = ("\t@not_an_upload not method POST", "\tlog_skip @not_an_upload")


def render_caddyfile(
    settings: FrontSettings, access: AccessSettings, fallback_url: str | None, hashes: Mapping[str, str]
) -> str:
    """The whole Caddyfile. `hashes` are the users' bcrypt hashes (the text is secret because of them);
    `fallback_url` is pypiserver's, which the front server follows the same way for unknown projects.
    The metrics users may scrape and nothing else: the other routes know only the readers."""
    protect = set(access.authenticate)
    scrapers = {name: hashes[name] for name in access.metrics_users}
    logins = Logins({name: hashes[name] for name in access.readers}, access.expires)
    site = settings.domain if ":" not in settings.domain else f"[{settings.domain}]"
    lines = [
        "# Written by pypi-index (components/front/caddyfile.py); `pulumi up` replaces it.",
        *_certificate_note(settings),
        "{",
        *_global_options(settings),
        *global_option(scrapers),
        "}",
        "",
        f"{site} {{",
        *_site_settings(settings),
        *routes.health_route(),
        *metrics_routes(scrapers),
        *routes.quarantined_files(
            [p for p, (status, _) in access.statuses.items() if status == "quarantined"], logins, "download" in protect
        ),
        *routes.file_routes(logins, "download" in protect),
        *routes.redirects(logins, "list" in protect),
        *routes.page_routes(logins, "list" in protect),
        *routes.unknown_pages(fallback_url, logins, "list" in protect),
        "",
        *routes.backend_route(settings.max_upload_mb, access.uploaders, logins, protect),
        "}",
    ]
    if settings.http_port:
        # Plain HTTP only redirects, to the URL clients use (its published port), path and query kept.
        # ACME's HTTP challenges are answered before any site's routes (modules/caddyhttp/server.go,
        # HandleHTTPChallenge), so this site does not hide them.
        lines += ["", "http:// {", f"\tredir {settings.public_url}{{uri}} 308", "}"]
    return "\n".join(lines) + "\n"


def _certificate_note(settings: FrontSettings) -> list[str]:
    """Naming the supplied certificate makes a rotation change this text: the step that writes it
    then runs again and reloads Caddy, after the new certificate and key are in place."""
    if settings.tls != "supplied":
        return []
    return [f"# certificate sha256:{hashlib.sha256((settings.tls_certificate or '').encode()).hexdigest()}"]


def _global_options(settings: FrontSettings) -> list[str]:
    # skip_install_trust: the internal CA is for clients to trust, not the machine Caddy runs on.
    options = ["\tadmin localhost:2019", f"\tdefault_sni {settings.domain}", "\tskip_install_trust"]
    if settings.tls == "acme" and settings.acme_email:
        options.append(f"\temail {settings.acme_email}")
    # Caddy's own HTTP->HTTPS redirect never names a port other than 443 (modules/caddyhttp/autohttps.go,
    # makeRedirRoute: its https_port is "for internal use only"), while the published HTTPS port may be
    # any: with httpsPort 8443 it sent clients to port 443. The redirect is the http:// site below.
    options.append("\tauto_https disable_redirects")
    return options


def _site_settings(settings: FrontSettings) -> list[str]:
    """TLS, HSTS, the access log of uploads and removals, and the request size limit."""
    tls = {
        "internal": "\ttls internal",
        "supplied": f"\ttls {CERT_FILE} {KEY_FILE}",
        "acme": None,  # Caddy's default: a publicly trusted certificate over ACME
    }[settings.tls]
    lines = [tls] if tls else []
    if settings.hsts:
        lines.append('\theader Strict-Transport-Security "max-age=31536000; includeSubDomains"')
    return [
        *lines,
        # Every upload or removal attempt, refused ones included (a wrong password never reaches
        # pypiserver's audit): one access-log line each, in the journal. Caddy redacts the
        # Authorization header in access logs; a refused attempt has no user to name.
        "\tlog {",
        ACCESS_LOG_OUTPUT,
        "\t\tformat json",
        "\t}",
        *ACCESS_LOG_ONLY_UPLOADS,
        "",
        "\trequest_body {",
        f"\t\tmax_size {settings.max_upload_mb}MB",
        "\t}",
        "",
    ]
