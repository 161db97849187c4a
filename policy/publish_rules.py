"""Who may publish what: ownership-declared (the stack says which users may publish which projects,
rather than letting every uploader publish every project) and upload-credentials-expire (every
credential that may upload stops working at a time the stack sets).

The rules reach the host inside the programs' archive (components/pypiserver/programs.py: a base64
tar with access.json beside the upload guard), the stdin of the step that delivers it; a rule finds
that step by its content, whatever the step is called.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import re
import tarfile
from collections.abc import Mapping, Sequence
from typing import Any

from policy.program_facts import ACCESS_FILE
from policy.subjects import REMOTE_COMMAND, UNKNOWN, Subject, describe

LOCAL_COMMAND = "command:local:Command"


def delivered_access(props: Any) -> dict[str, Any] | None:
    """access.json from a step's stdin, when the stdin is the programs' archive; None otherwise."""
    stdin = props.get("stdin") if hasattr(props, "get") else None
    if not isinstance(stdin, str) or stdin is UNKNOWN:
        return None
    try:
        with tarfile.open(fileobj=io.BytesIO(base64.decodebytes(stdin.encode("ascii")))) as tar:
            member = tar.extractfile(ACCESS_FILE)
            return json.loads(member.read()) if member is not None else None
    except (binascii.Error, ValueError, tarfile.TarError, KeyError, UnicodeError):
        return None


def ownership_declared(subject: Subject) -> list[str]:
    """Every project's publishers are declared: `owners` rules, or `uncoveredProjects: nobody`, so that
    no uploader may publish a project nobody granted them (advisory: production.json)."""
    if subject.resource_type not in (REMOTE_COMMAND, LOCAL_COMMAND):
        return []
    access = delivered_access(subject.props)
    if access is None or access.get("owners") or access.get("uncovered") == "nobody":
        return []
    return [
        f"{describe(subject.resource_type, subject.name)}: every uploader may publish every project (no owners "
        "rules, and uncoveredProjects is uploaders): declare who publishes what, e.g. "
        "pulumi config set --path 'owners[0]' 'acme-*: alice, ci-acme', and then "
        "pulumi config set uncoveredProjects nobody"
    ]


# A line of pypiserver's password file, which names exactly the users who may upload
# (components/pypiserver/htpasswd.py): `name:$2b$NN$...`. Only the name is ever read.
HTPASSWD_LINE = re.compile(r"^([^:\s]+):\$2[aby]\$\d\d\$\S+$")


def uploaders_in(stdin: Any) -> list[str] | None:
    """The user names of a password file given on a step's stdin; None if the stdin is not one."""
    if not isinstance(stdin, str) or stdin is UNKNOWN or not stdin.strip():
        return None
    lines = stdin.strip().splitlines()
    matches = [HTPASSWD_LINE.match(line) for line in lines]
    return [m.group(1) for m in matches if m] if all(matches) else None


def upload_credentials_expire(
    resources: Sequence[tuple[str, str, Mapping[str, Any]]], config: Mapping[str, Any] | None = None
) -> list[str]:
    """Every user who may upload has an expiry (`expires`), so a credential nobody renews stops working
    (advisory: production.json). A stack rule: the uploaders are in the password file's step, the
    expiries in access.json in the programs' step. Names users, never anything of their hashes."""
    steps = [props for kind, _, props in resources if kind in (REMOTE_COMMAND, LOCAL_COMMAND)]
    uploaders = next((u for u in (uploaders_in(p.get("stdin")) for p in steps) if u is not None), None)
    access = next((a for a in (delivered_access(p) for p in steps) if a is not None), None)
    if not uploaders or access is None:
        return []  # nobody may upload with a password, or not known yet (preview of a new stack)
    lasting = sorted(set(uploaders) - set(access.get("expires") or {}))
    if not lasting:
        return []
    example = f"pulumi config set --path 'expires[0]' '{lasting[0]}: 2027-06-30T00:00:00Z'"
    return [
        f"upload credentials without an expiry: {', '.join(lasting)}; a forgotten one works forever. "
        f"Give each an expiry (ISO 8601 with its offset), e.g. {example}"
    ]
