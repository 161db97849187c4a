"""Who may publish what: ownership-declared (the stack says which users may publish which projects,
rather than letting every uploader publish every project).

The rules reach the host inside the programs' archive (components/pypiserver/programs.py: a base64
tar with access.json beside the upload guard), the stdin of the step that delivers it; a rule finds
that step by its content, whatever the step is called.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import tarfile
from typing import Any

from program_facts import ACCESS_FILE
from subjects import REMOTE_COMMAND, UNKNOWN, Subject, describe

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
