"""The front server's routes (Caddyfile `handle` blocks), by what pypiserver calls the action:
- `/health`: no password, proxied to pypiserver (so it checks the whole chain). Exactly that path:
  see HEALTH_MATCH.
- download, `GET /packages/<file>`: served straight from the package volume (read-only).
- list, `GET /simple/...`: static PEP 503 pages kept by the indexer. A name spelled otherwise than
  PEP 503 normalises it, or without its trailing slash, is redirected here (301), as pypiserver
  redirects it; a project missing here is answered here (404, or the fallback's redirect).
- update (`POST`) and every other page: proxied to pypiserver, which checks the password again.

How Caddy matches paths decides what each route covers (caddyserver/caddy
modules/caddyhttp/matchers.go, v2.11): `path` lowercases the request path and cleans it (dot
segments resolved, slashes merged) before comparing; `path_regexp` cleans it but keeps its case; a
placeholder in an `expression` is the path as the client sent it, percent-decoded and nothing else,
which is what pypiserver's WSGI server hands it. A route that is more open than the default (only
`/health`) therefore matches with an expression; the protected routes may match loosely, since every
spelling they catch still asks for the same credentials.

Caddy's `basic_auth` keeps the result of each bcrypt comparison in memory (its Caddyfile form turns the
cache on), so a user pays the hash cost once, not on every request as with pypiserver alone.
`logins` below are the users' bcrypt hashes and expiries (logins.py); `protected`, whether the route's
action asks for them.
"""

from __future__ import annotations

from ..in_container.disk_watch import PAUSED_FLAG
from ..in_container.static_index import METADATA_DIR
from ..pypiserver.args import HEALTH_PATH, NETWORK_ALIAS, PORT
from ..store.mounts import INDEX_DIR, PACKAGES_ROOT
from . import quarantine
from .logins import Logins, expired_check

BACKEND = f"{NETWORK_ALIAS}:{PORT}"
JSON_TYPE = "application/vnd.pypi.simple.v1+json"
# The JSON type in Accept, unless its weight is q=0 (a client that refuses it).
JSON_ACCEPTED = r"application/vnd\.pypi\.simple\.v1\+json(\s*;\s*q=(0?\.0*[1-9]|1))?\s*(,|$)"
# How long a request for pypiserver waits while it is away (replaced by an upgrade, restarting): Caddy
# retries failed dials (nothing was sent upstream yet), so uploads are held as safely as pages.
# Longer than a replacement takes (measured 1-3 s) plus a slow start; shorter than clients' timeouts.
BACKEND_WAIT = "30s"
# An upload up to this size is read whole before it is sent on, so that it can be sent again. When
# pypiserver stops, gunicorn's master closes its listening socket at once and its worker a moment
# later (it looks every second); a connection the kernel queued in between is reset unread (seen
# with the real engine: 1 upload in ~3,000 through six upgrades, `read: connection reset by peer`,
# 502). Caddy replays a fully buffered body on a retry (reverseproxy.go, since 2.11: #6259, #7546),
# and `lb_retry_match` lets it retry a POST after the connection was made; larger uploads stream and
# still fail in that moment. The front container's memory limit bounds how many buffers fit at once.
UPLOAD_BUFFER = "4MiB"
# The one route open to anyone: the path exactly as pypiserver will see it (percent-decoded, not
# cleaned, case kept). `handle /health` would also open /HEALTH, //health and /x/../health, which
# Caddy would then pass to pypiserver unchecked.
HEALTH_MATCH = f"expression {{http.request.uri.path}} == '{HEALTH_PATH}' && {{http.request.method}} in ['GET', 'HEAD']"
# PEP 503 names: runs of -, _ and . are one -, and letters are lower case. A name of those characters
# spelled any other way is redirected to its normal form (pypiserver _app.py, `simple`).
# Matched on the path as sent (an expression), so the redirect is computed from exactly what it matched.
NAME_CHARS = "A-Za-z0-9._-"
WITHOUT_SLASH = f"^/simple(/[{NAME_CHARS}]+)?$"
NOT_NORMAL = f"^/simple/[{NAME_CHARS}]*([A-Z_.]|--)[{NAME_CHARS}]*/$"


def _proxy(indent: str) -> list[str]:
    return [
        f"{indent}reverse_proxy {BACKEND} {{",
        f"{indent}\tlb_try_duration {BACKEND_WAIT}",
        f"{indent}\tlb_try_interval 250ms",
        f"{indent}\trequest_buffers {UPLOAD_BUFFER}",
        f"{indent}\tlb_retry_match {{",
        f"{indent}\t\tmethod GET HEAD POST",
        f"{indent}\t}}",
        # A fresh connection per request: an upload sent on an idle kept-alive connection that a
        # stopping pypiserver has just closed fails (502, not retried: it was sent), where a new
        # connection is refused and retried. Measured: 1 failed upload in 2,094 requests through an
        # upgrade with keep-alive. Only uploads and the rare dynamic page take this path.
        f"{indent}\ttransport http {{",
        f"{indent}\t\tkeepalive off",
        f"{indent}\t}}",
        f"{indent}}}",
    ]


def _answered_here(name: str, match: list[str], answer: list[str], logins: Logins, protected: bool) -> list[str]:
    """A named route the front server answers itself (`answer`, Caddyfile lines), after the list
    credentials when listing is protected. In a `route` block, because Caddy otherwise orders a
    handler's directives by their kind, and `redir` comes before `basic_auth`: a redirect would be
    given to anyone (caddyconfig/httpcaddyfile/directives.go, defaultDirectiveOrder)."""
    return [
        f"\t@{name} {{",
        *(f"\t\t{line}" for line in match),
        "\t}",
        f"\thandle @{name} {{",
        "\t\troute {",
        *(f"\t{line}" for line in (_auth("", logins) if protected else [])),
        *(f"\t\t\t{line}" for line in answer),
        "\t\t}",
        "\t}",
        "",
    ]


def unknown_pages(fallback_url: str | None, logins: Logins, protected: bool) -> list[str]:
    """A simple page the indexer has not written: the project is not here. The front server answers
    it itself, to every user who may list: 404, or with a fallback index the redirect pypiserver
    would give (pypiserver, whose password file names only the uploaders, would refuse a reader).
    Only a name the index lacks entirely goes there: a missing version of a name it has fails."""
    if fallback_url:
        # /simple/<name>/ -> <fallback>/<name>/, as pypiserver's own redirect (_app.py, simpleindex)
        answer = f"redir {fallback_url.rstrip('/')}/{{http.request.uri.path.1}}/ 302"
    else:
        answer = 'respond "no such project here" 404'
    return ["", *_answered_here("unknown_page", ["method GET HEAD", "path /simple/*"], [answer], logins, protected)]


def redirects(logins: Logins, protected: bool) -> list[str]:
    """The redirects pypiserver gives for list pages (_app.py: `pep_503_redirects`, `simple`), answered
    here for every user who may list: pypiserver's password file names only the uploaders.
    `/simple` and `/simple/<name>` gain their slash; a name not in PEP 503's normal form is lower-cased
    (one `uri replace` per letter: Caddy has no lower-case placeholder) and its separators joined."""
    lower = [f"uri replace {letter} {letter.lower()}" for letter in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"]
    return [
        *_answered_here(
            "without_slash",
            ["method GET HEAD", f"expression {{http.request.uri.path}}.matches('{WITHOUT_SLASH}')"],
            ["redir {http.request.uri.path}/ 301"],
            logins,
            protected,
        ),
        *_answered_here(
            "not_normal",
            ["method GET HEAD", f"expression {{http.request.uri.path}}.matches('{NOT_NORMAL}')"],
            [*lower, "uri path_regexp [-_.]+ -", "redir {http.request.uri.path} 301"],
            logins,
            protected,
        ),
    ]


def _auth(matcher: str, logins: Logins) -> list[str]:
    """basic_auth for `logins`, then the refusal of an expired credential (logins.py)."""
    users = [f"\t\t\t{name} {logins.hashes[name]}" for name in sorted(logins.hashes)]
    opening = " ".join(part for part in ("basic_auth", matcher, "{") if part)
    return [f"\t\t{opening}", *users, "\t\t}", *(f"\t\t{line}" for line in expired_check(logins, matcher))]


def quarantined_files(projects: list[str], logins: Logins, protected: bool) -> list[str]:
    """No file of a quarantined project (PEP 792), after the download credentials (quarantine.py)."""
    return quarantine.quarantine_route(projects, _auth("", logins) if protected else [])


def health_route() -> list[str]:
    return [f"\t@health {HEALTH_MATCH}", "\thandle @health {", *_proxy("\t\t"), "\t}", ""]


def file_routes(logins: Logins, protected: bool) -> list[str]:
    """Package files straight from the volume, and PEP 658/714 core metadata at <file URL>.metadata,
    which the indexer extracted into the pages volume; the metadata protected like the file itself."""
    auth = _auth("", logins) if protected else []
    return [
        "\t@metadata {",
        "\t\tmethod GET HEAD",
        "\t\tpath_regexp metadata ^/packages/([^/]+\\.metadata)$",
        "\t}",
        "\thandle @metadata {",
        *auth,
        f"\t\troot * {INDEX_DIR}/{METADATA_DIR}",
        "\t\trewrite * /{re.metadata.1}",
        "\t\tfile_server",
        "\t}",
        "",
        "\t@download {",
        "\t\tmethod GET HEAD",
        "\t\tpath_regexp ^/packages/[^/]+$",
        "\t}",
        "\thandle @download {",
        *auth,
        f"\t\troot * {PACKAGES_ROOT}",
        "\t\tfile_server {",
        "\t\t\thide .*",
        "\t\t}",
        "\t}",
        "",
    ]


def page_routes(logins: Logins, protected: bool) -> list[str]:
    """The indexer's pages. PEP 691: the same URLs answer JSON to clients that ask for it (pip 22.2+,
    uv), HTML to the rest; caches must keep them apart (Vary: Accept)."""
    auth = _auth("", logins) if protected else []
    return [
        "\t@page_json {",
        "\t\tmethod GET HEAD",
        "\t\tpath /simple/*",
        f"\t\theader_regexp Accept {JSON_ACCEPTED}",
        "\t\tfile {",
        f"\t\t\troot {INDEX_DIR}",
        "\t\t\ttry_files {path}index.json",
        "\t\t}",
        "\t}",
        "\thandle @page_json {",
        *auth,
        f"\t\troot * {INDEX_DIR}",
        "\t\trewrite * {file_match.relative}",
        f'\t\theader Content-Type "{JSON_TYPE}"',
        "\t\theader Vary Accept",
        "\t\tfile_server",
        "\t}",
        "",
        "\t@page {",
        "\t\tmethod GET HEAD",
        "\t\tpath /simple/*",
        "\t\tfile {",
        f"\t\t\troot {INDEX_DIR}",
        "\t\t\ttry_files {path}index.html",
        "\t\t}",
        "\t}",
        "\thandle @page {",
        *auth,
        f"\t\troot * {INDEX_DIR}",
        "\t\theader Vary Accept",
        "\t\tfile_server",
        "\t}",
    ]


def backend_route(max_upload_mb: int, uploaders: tuple[str, ...], logins: Logins, protect: set[str]) -> list[str]:
    """Everything else goes to pypiserver: uploads (after their size, length and the disk are checked
    here) and the rare dynamic page."""
    limit = max_upload_mb * 1_000_000  # Caddy's MB, as in max_size
    return [
        "\thandle {",
        "\t\t@update method POST",
        "\t\t@list not method POST",
        # Only uploaders may upload; every user may read (roles). pypiserver's own file agrees.
        *(_auth("@update", logins.only(uploaders)) if "update" in protect else []),
        *(_auth("@list", logins) if "list" in protect else []),
        # Refuse an oversized upload from its Content-Length, before any of it reaches pypiserver:
        # request_body's limit alone cuts the stream mid-way, and pypiserver then stores the
        # truncated file as a package. Without a length, the limit could not be checked up front.
        "\t\t@too_large {",
        "\t\t\tmethod POST",
        # Guarded: int() of a missing or odd header is an error, which Caddy turns into a 500.
        "\t\t\texpression `{http.request.header.Content-Length}.matches('^[0-9]{1,18}$') && "
        f"int({{http.request.header.Content-Length}}) > {limit}`",
        "\t\t}",
        f'\t\trespond @too_large "uploads are limited to {max_upload_mb} MB" 413',
        "\t\t@no_length {",
        "\t\t\tmethod POST",
        "\t\t\tnot header Content-Length *",
        "\t\t}",
        '\t\trespond @no_length "uploads need a Content-Length" 411',
        # The indexer pauses uploads while the store's disk is nearly full (index_rules.disk_report):
        # refused here, before a byte is stored, rather than left to fill the disk.
        "\t\t@paused {",
        "\t\t\tmethod POST",
        "\t\t\tfile {",
        f"\t\t\t\troot {INDEX_DIR}",
        f"\t\t\t\ttry_files /{PAUSED_FLAG}",
        "\t\t\t}",
        "\t\t}",
        "\t\trespond @paused \"uploads are paused: the index's disk is nearly full (the host's operator must free space)\" 507",
        *_proxy("\t\t"),
        "\t}",
    ]
