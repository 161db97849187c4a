"""The rules the indexer lists the store by and the upload guard (gunicorn_conf.py) accepts uploads by:
what a distribution file says (its project and version, by name as pypiserver reads them; a
wheel's core metadata), and how much room an upload must leave on the disk. Runs inside the
containers: standard library only, Python 3.10.
"""

from __future__ import annotations

import email.parser
import re
import zipfile
import zlib

SUFFIXES = (".whl", ".tar.gz", ".tar.bz2", ".tar.xz", ".zip", ".tgz", ".egg")
METADATA_MAX = 4 << 20  # bytes of core metadata served for one wheel; larger: served without
# Uploads pause while the store's filesystem has less free space than the largest upload plus a
# margin: 5 % of the filesystem, at least 1 GiB. An accepted upload then never leaves the disk with
# less than that margin, which the journal, Docker, apt and the backup's cache keep working in.
MARGIN_SHARE, MARGIN_MIN = 0.05, 1 << 30


def normalize(name: str) -> str:
    """PEP 503 name normalisation."""
    return re.sub(r"[-_.]+", "-", name).lower()


# A project name as the core metadata specification allows it (PEP 508's `identifier`): letters,
# digits and `._-`, starting and ending with a letter or digit. Nothing else can name a project, and
# nothing else ever reaches a page: a file copied into the store by hand or restored from a backup
# skips pypiserver's own checks, and a name like `<img src=x onerror=...>` must not become markup.
VALID_NAME = re.compile(r"[A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9._-]*[A-Za-z0-9]")


def project_of(filename: str) -> str | None:
    """The normalised project a distribution file belongs to, or None for anything else (including a
    name no project can have: the pages never list it, the upload guard refuses it)."""
    if filename.startswith(".") or not filename.endswith(SUFFIXES):
        return None
    if filename.endswith((".whl", ".egg")):
        name = filename.split("-", 1)[0]
    else:
        stem = next(filename[: -len(s)] for s in SUFFIXES if filename.endswith(s))
        if "-" not in stem:
            return None
        name = stem.rsplit("-", 1)[0]
    return normalize(name) if VALID_NAME.fullmatch(name) else None


def version_of(filename: str) -> str | None:
    """The version a distribution file carries in its name (wheel: the second field)."""
    if filename.endswith((".whl", ".egg")):
        parts = filename.split("-")
        return parts[1] if len(parts) > 2 else None
    stem = next((filename[: -len(s)] for s in SUFFIXES if filename.endswith(s)), None)
    return stem.rsplit("-", 1)[1] if stem and "-" in stem else None


def wheel_metadata(path: str) -> bytes | None:
    """A wheel's `*.dist-info/METADATA` (what PEP 658 serves), or None if it has none, or one too
    large to be real (a few kB is usual): a crafted member that inflates to gigabytes must not take
    the indexer's memory, and with it every project's pages."""
    try:
        with zipfile.ZipFile(path) as wheel:
            members = [i for i in wheel.infolist() if re.fullmatch(r"[^/]+\.dist-info/METADATA", i.filename)]
            if len(members) != 1 or members[0].file_size > METADATA_MAX:
                return None
            with wheel.open(members[0]) as member:
                data = member.read(METADATA_MAX + 1)  # the declared size is the uploader's word
            return data if len(data) <= METADATA_MAX else None
    except (OSError, zipfile.BadZipFile, KeyError, ValueError, EOFError, zlib.error):
        return None


def requires_python(metadata: bytes | None) -> str | None:
    if not metadata:
        return None
    value = email.parser.BytesParser().parsebytes(metadata, headersonly=True).get("Requires-Python")
    return str(value).strip() or None if value is not None else None


def canonical_version(version: str) -> str:
    """A version as PEP 440 compares it, near enough to match a yank to its files: case, a leading
    `v` and trailing `.0` release segments do not count (`1.2` yanks `1.2.0` and `V1.2.0`)."""
    match = re.match(r"^v?(\d+(?:\.\d+)*)(.*)$", version.strip().lower())
    if not match:
        return version.strip().lower()
    release = [str(int(part)) for part in match.group(1).split(".")]
    while len(release) > 1 and release[-1] == "0":
        release.pop()
    return ".".join(release) + match.group(2)


def margin(total: int) -> int:
    """The free space an accepted upload must leave on a filesystem of `total` bytes."""
    return max(int(total * MARGIN_SHARE), MARGIN_MIN)


def disk_report(free: int, total: int, upload_limit: int) -> tuple[bool, str]:
    """(paused, the reason): pure, so the rule is tested without filling a disk."""
    needed = upload_limit + margin(total)
    gib = 1 << 30
    text = f"{free / gib:.1f} GiB free of {total / gib:.1f} GiB; uploads need {needed / gib:.1f} GiB free"
    return free < needed, text
