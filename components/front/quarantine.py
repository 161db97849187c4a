"""PEP 792's quarantine at the front server: no file of a quarantined project is served, nor its core
metadata (the index "MUST NOT offer any distributions of the project for download"), whatever the
file's spelling. The pages list none of them either (the indexer, simple_pages.py).

Which project a file belongs to is index_rules.project_of's reading of its name, written here as one
RE2 expression per project for Caddy's `path_regexp` (the path cleaned, its case kept:
caddyserver/caddy modules/caddyhttp/matchers.go), case-insensitive: a wheel's (or egg's) first field,
whose separators are `_` and `.`; an sdist's name less its last `-VERSION`, any run of `-_.` between
the name's parts. tests/parts/front/test_quarantine.py checks it against project_of.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

SDISTS = r"\.(tar\.gz|tar\.bz2|tar\.xz|zip|tgz)"


def files_of(projects: Iterable[str]) -> str:
    """One regular expression for the /packages/ paths (files and .metadata) of `projects` (PEP 503 names)."""
    names = sorted(set(projects))
    wheels = "|".join("[_.]+".join(map(re.escape, p.split("-"))) for p in names)
    sdists = "|".join("[-_.]+".join(map(re.escape, p.split("-"))) for p in names)
    return rf"(?i)^/packages/((?:{wheels})-[^/]*\.(?:whl|egg)|(?:{sdists})-[^-/]*{SDISTS})(\.metadata)?$"


def quarantine_route(projects: Iterable[str], auth: list[str]) -> list[str]:
    """A handle block (before the file routes) answering 404 for every file of a quarantined project,
    after the download credentials (`auth`, Caddyfile lines) when downloads are protected."""
    names = sorted(set(projects))
    if not names:
        return []
    return [
        "\t@quarantined {",
        "\t\tmethod GET HEAD",
        f"\t\tpath_regexp {files_of(names)}",
        "\t}",
        "\thandle @quarantined {",
        *auth,
        '\t\trespond "this project is quarantined: its files are not served" 404',
        "\t}",
        "",
    ]
