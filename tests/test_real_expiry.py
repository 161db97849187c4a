"""Credentials that expire, through the real front server and the real pypiserver behind the program's
guard: a credential set to expire a minute ahead works until then and is refused after, with no
deploy, reload or restart in between."""

from __future__ import annotations

import datetime
import re
import time

from tests.support.index_client import make_wheel, upload
from tests.support.real_access import TEAM, access_stack

AHEAD = 60  # seconds


def test_a_credential_works_until_its_expiry_and_is_refused_after_without_a_deploy(tmp_path):
    expiry = int(time.time()) + AHEAD
    stamp = datetime.datetime.fromtimestamp(expiry, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    expires = [f"reader: {stamp}", f"ci-acme: {stamp}"]
    with access_stack(tmp_path / "stack", expires=expires) as stack:
        pids = (stack.backend.process.pid, stack.front.process.pid)
        caddyfile = stack.front.caddyfile.read_text()
        assert stack.upload("ci-acme", make_wheel(tmp_path / "1", "early-tool", "1.0")).status == 200
        assert stack.listed("early-tool", "reader")
        file_path = "/packages/early_tool-1.0-py3-none-any.whl"
        assert stack.get(file_path, "reader").status == 200
        remaining = expiry - time.time()
        assert remaining > 5, f"the set-up took too long to see the credential work ({remaining:.0f} s left)"
        time.sleep(remaining + 1)

        for path in ("/simple/early-tool/", "/simple/", file_path):
            refused = stack.get(path, "reader")
            assert refused.status == 401 and refused.body == b"this credential has expired", (path, refused)
        late = stack.upload("ci-acme", make_wheel(tmp_path / "2", "late-tool", "1.0"))
        assert late.status == 401 and late.body == b"this credential has expired", late
        # The guard's own clock, for an upload that reaches pypiserver without the front server.
        direct = upload(
            f"{stack.backend.url}/", make_wheel(tmp_path / "3", "late-tool", "1.0"), "ci-acme", TEAM["ci-acme"]
        )
        assert direct.status == 401 and direct.body.decode() == f"the credential of 'ci-acme' expired at {stamp}\n"
        assert stack.audited(re.compile(r"audit: upload user=ci-acme status=401 .* reason=.*expired at"))
        # The users without an expiry are untouched.
        assert stack.get("/simple/", "alice").status == 200
        assert stack.upload("ci", make_wheel(tmp_path / "4", "later-tool", "1.0")).status == 200
        assert (stack.backend.process.pid, stack.front.process.pid) == pids, "no restart"
        assert stack.front.caddyfile.read_text() == caddyfile, "no new configuration"
        assert not (stack.backend.packages / "late_tool-1.0-py3-none-any.whl").exists()
