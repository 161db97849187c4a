"""The simple API's pages: HTML (PEP 503, with PEP 629's repository version) and JSON (PEP 691, with
PEP 700's versions, sizes and upload times), each file with its hash, Requires-Python, core metadata
(PEP 658/714) and yank (PEP 592). Pure functions: the indexer writes what they return.
"""

from __future__ import annotations

import html
import json
import time

# Beside this file: as components.in_container.simple_pages in the program and its tests, or from the folder
# the program delivered them into, where the container runs them (python3 /data/hooks/<hash>/...).
if __package__:
    from . import index_rules
else:
    import index_rules  # type: ignore[import-not-found, no-redef]

API_VERSION = "1.1"  # PEP 700's additions to PEP 691
# PEP 792: a project page that carries a status declares version 1.4 (HTML `pypi:repository-version`,
# JSON `meta.api-version`); the versions between add only optional fields (PEP 708, PEP 740). A page
# without a status stays at 1.1, which clients read as `active`.
STATUS_API_VERSION = "1.4"


def upload_time(mtime_ns: int) -> str:
    """PEP 700's ISO 8601 form, UTC, with microseconds."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(mtime_ns // 1_000_000_000)) + (
        f".{(mtime_ns // 1000) % 1_000_000:06d}Z"
    )


def render_root(projects: list[str]) -> str:
    # Names are valid project names (VALID_NAME) and need no escaping; escaped all the same, so a
    # page can never carry markup whatever a later change lets through.
    # The root lists every project: it is written whole whenever one comes or goes, so each name is
    # escaped once (100,000 projects: 4.9 MB of HTML).
    links = "".join(f'    <a href="{e}/">{e}</a><br>\n' for e in map(html.escape, sorted(projects)))
    return (
        "<!DOCTYPE html>\n<html>\n  <head>\n"
        f'    <meta name="pypi:repository-version" content="{API_VERSION}">\n'
        "    <title>Simple index</title>\n  </head>\n"
        f"  <body>\n{links}  </body>\n</html>\n"
    )


def render_root_json(projects: list[str]) -> str:
    """json.dumps of {"meta": ..., "projects": [{"name": ...}, ...]}, byte for byte, without building a
    dictionary per project (a third of the time, which a root of 100,000 projects notices)."""
    names = ", ".join(f'{{"name": {quoted}}}' for quoted in map(json.encoder.encode_basestring_ascii, sorted(projects)))
    return f'{{"meta": {json.dumps({"api-version": API_VERSION})}, "projects": [{names}]}}'


def _attributes(info: dict) -> str:
    extra = ""
    if info.get("yanked") is not None:
        extra += f' data-yanked="{html.escape(info["yanked"], quote=True)}"'  # PEP 592
    if info.get("requires_python"):
        extra += f' data-requires-python="{html.escape(info["requires_python"], quote=True)}"'
    if info.get("metadata_sha256"):
        # PEP 714's name, and PEP 658's for the clients that only know that one.
        value = f"sha256={info['metadata_sha256']}"
        extra += f' data-dist-info-metadata="{value}" data-core-metadata="{value}"'
    return extra


def _status_meta(status: tuple[str, str] | None) -> str:
    """PEP 792's HTML: `pypi:project-status`, and `pypi:project-status-reason` when there is a reason."""
    if status is None:
        return ""
    meta = f'    <meta name="pypi:project-status" content="{html.escape(status[0], quote=True)}">\n'
    if status[1]:
        meta += f'    <meta name="pypi:project-status-reason" content="{html.escape(status[1], quote=True)}">\n'
    return meta


def _offered(files: dict[str, dict], status: tuple[str, str] | None) -> dict[str, dict]:
    """The files a page lists: none of a quarantined project (PEP 792: the index MUST NOT offer any)."""
    return {} if status is not None and status[0] == "quarantined" else files


def render_project(project: str, files: dict[str, dict], status: tuple[str, str] | None = None) -> str:
    """`files`: file name -> {sha256, size, mtime_ns, requires_python, metadata_sha256}. Links go to
    /packages/<file>, served from the volume. `status`: PEP 792's (status, reason), None for active."""
    files = _offered(files, status)
    links = "".join(
        f'    <a href="../../packages/{html.escape(name)}#sha256={info["sha256"]}"{_attributes(info)}>'
        f"{html.escape(name)}</a><br>\n"
        for name, info in sorted(files.items())
    )
    return (
        "<!DOCTYPE html>\n<html>\n  <head>\n"
        f'    <meta name="pypi:repository-version" content="{STATUS_API_VERSION if status else API_VERSION}">\n'
        f"{_status_meta(status)}"
        f"    <title>Links for {html.escape(project)}</title>\n  </head>\n"
        f"  <body>\n    <h1>Links for {html.escape(project)}</h1>\n{links}  </body>\n</html>\n"
    )


def render_project_json(project: str, files: dict[str, dict], status: tuple[str, str] | None = None) -> str:
    """PEP 691's project page with PEP 700's `versions`, `size` and `upload-time`, and PEP 792's
    `project-status` (beside `meta`, with `status` and, when given, `reason`)."""
    files = _offered(files, status)
    entries = []
    for name, info in sorted(files.items()):
        metadata = {"sha256": info["metadata_sha256"]} if info.get("metadata_sha256") else False
        entries.append(
            {
                "filename": name,
                "url": f"../../packages/{name}",
                "hashes": {"sha256": info["sha256"]},
                "requires-python": info.get("requires_python"),
                "core-metadata": metadata,
                "dist-info-metadata": metadata,
                "size": info["size"],
                "upload-time": upload_time(info["mtime_ns"]),
                # PEP 592 in JSON: the reason, or true when none was given.
                "yanked": (info["yanked"] or True) if info.get("yanked") is not None else False,
            }
        )
    versions = sorted({v for v in (index_rules.version_of(name) for name in files) if v})
    page: dict = {"meta": {"api-version": API_VERSION}, "name": project, "versions": versions, "files": entries}
    if status is not None:
        page["meta"]["api-version"] = STATUS_API_VERSION
        page["project-status"] = {"status": status[0], **({"reason": status[1]} if status[1] else {})}
    return json.dumps(page)
