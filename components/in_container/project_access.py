"""Who may publish what: the stack's `owners` (project patterns -> users) and `uncoveredProjects`, as
the upload guard (gunicorn_conf.py) applies them to every upload and removal before pypiserver sees it.

The program renders them into `access.json`, delivered in the same folder as this file and the guard
(components/pypiserver/programs.py), so a change of rules is a change of that folder: the canary
tries it and the containers are replaced. The program reads the same patterns through this module
(components/settings/ownership.py), so what preview accepts is what the guard applies.

Patterns are on the PEP 503 normalised name (index_rules.normalize): `*` any run of characters, `?`
one. Every spelling of a name is one project (`Acme.Tool`, `acme__tool`, `ACME-tool`), so no spelling
gets around a rule; a pattern is normalised the same way (`Acme_*` is `acme-*`).
Standard library only: it runs inside the pypiserver image, on its Python (3.10).
"""

from __future__ import annotations

import json
import re
import time

ACCESS_FILE = "access.json"
UNCOVERED = ("uploaders", "nobody")
STATUSES = ("archived", "quarantined", "deprecated")
"""PEP 792's statuses besides `active` (every project not named); the first two refuse uploads."""
CLOSED = ("archived", "quarantined")
"""What a project no rule covers allows: any user with the upload role, or nobody."""

# What a pattern may hold before normalisation: a name's characters (PEP 508 identifier) and the wildcards.
PATTERN_CHARS = re.compile(r"[A-Za-z0-9._*?-]+")


def normal_pattern(pattern: str) -> str:
    """A pattern as the names it matches are spelled: lower case, runs of `-_.` one `-` (PEP 503)."""
    return re.sub(r"[-_.]+", "-", pattern).lower()


def pattern_problem(pattern: str) -> str | None:
    """Why no valid project name can match `pattern`, or None. A normalised name is letters, digits and
    single `-` between them (it starts and ends with a letter or digit)."""
    if not PATTERN_CHARS.fullmatch(pattern):
        return "a pattern holds letters, digits, '.', '_', '-' and the wildcards '*' and '?' only"
    normal = normal_pattern(pattern)
    if normal.startswith("-") or normal.endswith("-"):
        return "a project name starts and ends with a letter or digit, so no name can match it"
    return None


def _regex(pattern: str) -> re.Pattern[str]:
    parts = {"*": "[a-z0-9-]*", "?": "[a-z0-9-]"}
    return re.compile("".join(parts.get(c, re.escape(c)) for c in normal_pattern(pattern)))


class ProjectAccess:
    # A plain class: gunicorn_conf.py loads this module by path, outside sys.modules, where a
    # dataclass cannot resolve its own annotations (dataclasses._is_type).
    def __init__(
        self,
        owners: tuple[tuple[str, tuple[str, ...]], ...],
        uncovered: str,
        expires: dict[str, int] | None = None,
        statuses: dict[str, tuple[str, str]] | None = None,
    ):
        self.owners = owners
        """(normalised pattern, the users it grants), in the config's order."""
        self.uncovered = uncovered
        self._compiled = [(_regex(p), p, users) for p, users in owners]
        self.expires = expires or {}
        """User -> the Unix time their credential stops working (the stack's `expires`)."""
        self.statuses = statuses or {}
        """PEP 503 name -> (PEP 792 status, reason), the projects not active (the stack's `projectStatus`)."""

    def expired(self, user: str, now: float) -> str | None:
        """Why `user`'s credential no longer works at `now`, or None: the front server refuses it too
        (front/logins.py); the guard's own check holds for a request that reaches pypiserver directly."""
        when = self.expires.get(user)
        if when is None or now < when:
            return None
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(when))
        return f"the credential of {user!r} expired at {stamp}"

    def owners_of(self, project: str) -> tuple[list[str], tuple[str, ...]] | None:
        """(the patterns that cover `project`, the users they grant together), or None if none does."""
        covering = [(p, users) for regex, p, users in self._compiled if regex.fullmatch(project)]
        if not covering:
            return None
        return [p for p, _ in covering], tuple(sorted({u for _, users in covering for u in users}))

    def refusal(self, user: str, project: str, action: str = "upload to") -> str | None:
        """Why `user` may not `action` the (normalised) `project`, or None if it may. An archived or
        quarantined project takes no upload from anyone (PEP 792: the index MUST NOT allow uploads)."""
        status, reason = self.statuses.get(project, ("active", ""))
        if status in CLOSED and action == "upload to":
            return f"project {project!r} is {status}: it takes no new uploads" + (f" ({reason})" if reason else "")
        covered = self.owners_of(project)
        if covered is None:
            if self.uncovered == "uploaders":
                return None
            return (
                f"user {user!r} may not {action} project {project!r}: no rule in `owners` covers it, "
                "and uncoveredProjects is nobody"
            )
        patterns, users = covered
        if user in users:
            return None
        granted = ", ".join(users) or "nobody"
        return f"user {user!r} may not {action} project {project!r}: {' and '.join(patterns)} may be published by {granted} only"


def render(
    owners: dict[str, list[str]],
    uncovered: str,
    expires: dict[str, int] | None = None,
    statuses: dict[str, tuple[str, str]] | None = None,
) -> str:
    """access.json: the same text for the same rules (their order kept: it is the config's)."""
    rules = [[normal_pattern(p), sorted(set(users))] for p, users in owners.items()]
    data: dict = {"owners": rules, "uncovered": uncovered, "expires": dict(sorted((expires or {}).items()))}
    if statuses:  # absent when every project is active: the file of a stack without statuses is unchanged
        data["statuses"] = {p: list(s) for p, s in sorted(statuses.items())}
    return json.dumps(data, sort_keys=True, indent=1) + "\n"


def parse(text: str) -> ProjectAccess:
    data = json.loads(text)
    if data.get("uncovered") not in UNCOVERED:
        raise ValueError(f"{ACCESS_FILE}: uncovered must be one of {UNCOVERED}")
    owners = tuple((p, tuple(users)) for p, users in data["owners"])
    expires = {u: int(t) for u, t in data.get("expires", {}).items()}
    statuses = {p: (s[0], s[1]) for p, s in data.get("statuses", {}).items()}
    return ProjectAccess(owners, data["uncovered"], expires, statuses)


def load(path: str) -> ProjectAccess:
    """The rules delivered at `path`. A missing or broken file is an error (the worker does not start),
    never an open index: the file is delivered with the guard itself."""
    with open(path, encoding="utf-8") as source:
        return parse(source.read())


ANYONE = ProjectAccess((), "uploaders")
"""No per-project rules: every user with the upload role may publish every project (before ownership)."""
