"""The roles matrix: every role by every project rule by every status (PEP 792) by every action,
through the real front server and the real pypiserver behind the program's guard, each cell the
answer the README's table promises. CI prints `ACCESS matrix <n> cells, <k> wrong`."""

from __future__ import annotations

import datetime
import itertools
import shutil
import time

import pytest

from tests.support.access_tally import ACCESS
from tests.support.index_client import http_get, make_wheel, upload
from tests.support.real_access import TEAM, AccessStack, access_stack

RULES = {"owned": "acme", "frozen": "frozen", "uncovered": "free"}  # rule -> project name prefix
STATUSES = ("active", "deprecated", "archived", "quarantined")
ROLES = ("owner", "other-uploader", "reader", "stranger", "expired")
USER = {"owner": "alice", "other-uploader": "ci", "reader": "reader", "stranger": "mallory", "expired": "ci-acme"}
ACTIONS = ("list", "download", "upload")
EXPIRES_IN = 40  # seconds: the expired role's cells are asked once its credential has passed


def project(rule: str, status: str) -> str:
    return f"{RULES[rule]}-{status}"


def expected(role: str, rule: str, status: str, action: str) -> int:
    """The README's table, cell by cell."""
    if role in ("stranger", "expired"):
        return 401
    if action == "list":
        return 200
    if action == "download":
        return 404 if status == "quarantined" else 200
    if role == "reader":
        return 401  # no upload role: the front server asks for an uploader's credentials
    if status in ("archived", "quarantined"):
        return 403
    may = {"owned": role == "owner", "frozen": False, "uncovered": True}[rule]
    return 200 if may else 403


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    expiry = int(time.time()) + EXPIRES_IN
    stamp = datetime.datetime.fromtimestamp(expiry, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    statuses = [f"{project(r, s)}: {s}" for r in RULES for s in STATUSES if s != "active"]
    with access_stack(
        tmp_path_factory.mktemp("matrix"),
        owners=["acme-*: alice, ci-acme", "frozen-*:"],
        projectStatus=statuses,
        expires=[f"ci-acme: {stamp}"],
    ) as running:
        dist = tmp_path_factory.mktemp("dist")
        for rule, status in itertools.product(RULES, STATUSES):
            shutil.copy(make_wheel(dist, project(rule, status), "1.0"), running.backend.packages)
        for rule, status in itertools.product(RULES, STATUSES):
            assert running.listed(project(rule, status), "reader")
        running.expiry = expiry  # type: ignore[attr-defined]
        yield running


def ask(stack: AccessStack, role: str, rule: str, status: str, action: str, work, serial: int) -> int:
    user = USER[role]
    password = TEAM.get(user, "mallory-password-0000")
    name = project(rule, status)
    if action == "list":
        return http_get(f"{stack.front.url}/simple/{name}/", user, password, ca=stack.front.ca).status
    if action == "download":
        path = f"/packages/{name.replace('-', '_')}-1.0-py3-none-any.whl"
        return http_get(f"{stack.front.url}{path}", user, password, ca=stack.front.ca).status
    wheel = make_wheel(work / str(serial), name, f"2.{serial}")
    return upload(stack.upload_url, wheel, user, password, ca=stack.front.ca).status


def test_every_role_by_rule_by_status_by_action(stack, tmp_path):
    cells = list(itertools.product(ROLES, RULES, STATUSES, ACTIONS))
    answers = {}
    # The expired role last, once its credential's time has passed (it worked at the start: the
    # fixture's listing check ran as reader; test_real_expiry.py shows the before and after).
    for serial, cell in enumerate(sorted(cells, key=lambda c: c[0] == "expired")):
        if cell[0] == "expired" and time.time() < stack.expiry:
            time.sleep(stack.expiry - time.time() + 1)
        answers[cell] = ask(stack, *cell, tmp_path, serial)
    wrong = {cell: (answers[cell], expected(*cell)) for cell in cells if answers[cell] != expected(*cell)}
    ACCESS.cells, ACCESS.wrong = len(cells), len(wrong)
    assert not wrong, "\n".join(f"{cell}: got {got}, expected {want}" for cell, (got, want) in sorted(wrong.items()))
    assert len(cells) == 180
