"""Real behaviour: the real pypiserver (the version the image tag pins, with the image's library pins),
the real Caddy (the release the program pins) and the real indexer, run on loopback with exactly the
arguments, htpasswd file and Caddyfile the program produces, driven by twine, pip and plain HTTPS."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import subprocess
import sys
import threading
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.host.machine import free_port
from tests.support.deployments import PASSWORDS, config_for, deploy
from tests.support.index_client import (
    client_env,
    http_get,
    make_wheel,
    pip_install,
    remove,
    retrying_a_dropped_connection,
    twine_upload,
    upload,
    wait_healthy,
)
from tests.support.real_front import RunningFront, running_front
from tests.support.real_pypiserver import RunningIndex, running_deployed_index
from tests.support.recorded import Deployment, reveal, run_program

USER, PASSWORD = "ci", PASSWORDS["ci"]
READER_PASSWORD = PASSWORDS["alice"]
MAX_UPLOAD_MB = 2


@dataclass
class Stack:
    backend: RunningIndex
    front: RunningFront
    exports: dict
    https_port: int

    def url(self, path: str) -> str:
        return f"{self.front.url}{path}"

    def get(self, path: str, user: str | None = None, password: str | None = None):
        return http_get(self.url(path), user, password, ca=self.front.ca)


def staged(https_port: int, salt_key: str | None = None, **overrides) -> Deployment:
    """The staging stack on loopback: ci may upload, alice only reads (roles)."""
    settings = {
        "domain": "127.0.0.1",
        "httpsPort": str(https_port),
        "maxUploadMb": str(MAX_UPLOAD_MB),
        "uploaders": ["ci"],
    }
    return run_program("staging", config_for("staging", **{**settings, **overrides}), salt_key=salt_key)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    https_port, backend_port = free_port(), free_port()
    deployment = staged(https_port)
    caddy_text = reveal(deployment.named("pypi-caddyfile").inputs["stdin"])
    workdir = tmp_path_factory.mktemp("index")
    with (
        running_deployed_index(deployment, workdir / "backend", backend_port) as backend,
        running_front(caddy_text, workdir / "front", backend.packages, backend_port, https_port) as front,
    ):
        yield Stack(backend, front, deployment.exports, https_port)


@pytest.fixture(scope="module")
def uploaded(stack, tmp_path_factory):
    wheel = make_wheel(tmp_path_factory.mktemp("dist"), "team-tool", "1.0.0")
    result = twine_upload(stack.exports["uploadUrl"], wheel, USER, PASSWORD, ca=stack.front.ca)
    assert result.returncode == 0, result.stdout + result.stderr
    return wheel


def test_health_needs_no_password_and_goes_through_the_chain(stack):
    reply = stack.get("/health")
    assert reply.status == 200 and reply.body == b"Ok"
    assert stack.exports["indexUrl"] == f"https://127.0.0.1:{stack.https_port}/simple/"


def test_only_https_with_the_exported_ca(stack):
    with pytest.raises(OSError, match="CERTIFICATE_VERIFY_FAILED"):
        http_get(stack.url("/health"))  # the system's CAs do not know the index's own CA


def test_upload_then_pip_install_through_static_pages(stack, uploaded, tmp_path):
    assert (stack.backend.packages / uploaded.name).is_file()
    wait_healthy(stack.front.url, ca=stack.front.ca)
    page = stack.front.root / "index" / "simple" / "team-tool" / "index.html"
    wait_until_true(page.exists, timeout=5)
    assert uploaded.name in page.read_text(), "the page pip reads is the indexer's static page"
    result = pip_install(
        tmp_path / "home", stack.exports["pipConf"], "127.0.0.1", USER, PASSWORD, "team-tool", tmp_path / "site",
        ca=stack.front.ca,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "site" / "team_tool" / "__init__.py").read_text() == 'VERSION = "1.0.0"\n'


def test_pip_install_with_a_wrong_password_fails(stack, uploaded, tmp_path):
    result = pip_install(
        tmp_path / "home", stack.exports["pipConf"], "127.0.0.1", USER, "wrong-password-123", "team-tool",
        tmp_path / "site", ca=stack.front.ca,
    )  # fmt: skip
    assert result.returncode != 0
    assert not (tmp_path / "site" / "team_tool").exists()


@pytest.mark.parametrize(
    "credentials", [None, (USER, "wrong-password-123"), ("nobody", PASSWORD)], ids=["missing", "wrong", "unknown-user"]
)
def test_list_and_download_refuse_bad_credentials(stack, uploaded, credentials):
    auth = credentials or (None, None)
    paths = ("/simple/", "/simple/team-tool/", f"/packages/{uploaded.name}", "/", "/packages/", "/simple/Team_Tool/")
    for path in paths:
        assert stack.get(path, *auth).status == 401, path
    for path in ("/simple/", "/simple/team-tool/", f"/packages/{uploaded.name}"):
        assert stack.get(path, USER, PASSWORD).status == 200, path


@pytest.mark.parametrize("password", ["wrong-password-123", ""], ids=["wrong", "empty"])
def test_upload_refuses_bad_credentials(stack, tmp_path, password):
    wheel = make_wheel(tmp_path, "intruder", "6.6.6")
    result = twine_upload(stack.exports["uploadUrl"], wheel, USER, password, ca=stack.front.ca)
    assert result.returncode != 0 and "401" in result.stdout + result.stderr, result.stdout + result.stderr
    assert not (stack.backend.packages / wheel.name).exists()


def test_plain_http_only_redirects_to_https(stack):
    for path in ("/simple/", "/packages/x.whl", "/health"):
        answer = http_get(f"http://127.0.0.1:{stack.front.http_port}{path}", follow_redirects=False)
        assert answer.status in (301, 308), (path, answer.status)
        assert answer.headers["Location"] == f"https://127.0.0.1:{stack.https_port}{path}", answer.headers


def test_hsts_is_sent_in_production_only(stack, tmp_path):
    assert "Strict-Transport-Security" not in stack.get("/health").headers, "staging: no HSTS"
    https_port, backend_port = free_port(), free_port()
    production = deploy("production", domain="127.0.0.1", httpsPort=str(https_port))
    caddy_text = reveal(production.named("pypi-caddyfile").inputs["stdin"])
    with (
        running_deployed_index(production, tmp_path / "backend", backend_port) as backend,
        running_front(caddy_text, tmp_path / "front", backend.packages, backend_port, https_port) as front,
    ):
        for path, user in (("/health", None), ("/simple/", USER), ("/simple/", None)):
            answer = http_get(f"{front.url}{path}", user, PASSWORD if user else None, ca=front.ca)
            hsts = answer.headers.get("Strict-Transport-Security", "")
            assert hsts.startswith("max-age=31536000") and "includeSubDomains" in hsts, (
                path,
                answer.status,
                answer.headers,
            )


def _front_log(stack: Stack) -> list[dict]:
    """The front server's access-log records (JSON lines among its other output)."""
    lines = (stack.front.root / "caddy.log").read_text().splitlines()
    records = [json.loads(line) for line in lines if line.startswith("{")]
    return [r for r in records if r.get("logger", "").startswith("http.log.access")]


def test_a_refused_upload_is_in_the_front_servers_log_without_its_password(stack, tmp_path):
    password = "not-the-password-4d1e"
    wheel = make_wheel(tmp_path, "refused-tool", "1.0")
    assert upload(f"{stack.front.url}/", wheel, USER, password, ca=stack.front.ca).status == 401
    wait_until_true(lambda: any(r["status"] == 401 for r in _front_log(stack)), 10)
    refused = [r for r in _front_log(stack) if r["status"] == 401 and r["request"]["method"] == "POST"]
    assert refused, "a refused upload leaves a record"
    record = json.dumps(refused[-1])
    token = base64.b64encode(f"{USER}:{password}".encode()).decode()
    assert password not in record and token not in record, "the credentials are never logged"
    assert {"ts", "status"} <= set(refused[-1]) and refused[-1]["request"]["remote_ip"] == "127.0.0.1"
    assert all(r["request"]["method"] == "POST" for r in _front_log(stack)), "only uploads and removals"


def test_reupload_of_the_same_file_is_refused(stack, uploaded):
    before = (stack.backend.packages / uploaded.name).read_bytes()
    result = twine_upload(stack.exports["uploadUrl"], uploaded, USER, PASSWORD, ca=stack.front.ca)
    # pypiserver answers 409, or 400 to twine (which treats 400 as "exists", pypa/twine#1265).
    assert result.returncode != 0 and "400 Bad Request" in result.stdout + result.stderr, result.stdout + result.stderr
    assert (stack.backend.packages / uploaded.name).read_bytes() == before


def test_upload_size_limit(stack, tmp_path):
    fits = make_wheel(tmp_path, "big-tool", "1.0.0", size=(MAX_UPLOAD_MB - 1) * 1024 * 1024)
    result = twine_upload(stack.exports["uploadUrl"], fits, USER, PASSWORD, ca=stack.front.ca)
    assert result.returncode == 0, result.stdout + result.stderr
    # Just over the limit: the front server answers 413 from the Content-Length and stops reading.
    # A client that is still sending then meets a closed connection instead of the answer (Go's
    # server drains 256 KB, waits 0.5 s, closes); on loopback half a megabyte more fits in the socket
    # buffers, so twine reads the 413. Much larger uploads over real networks usually end that way:
    # the README says so. Either way nothing is stored.
    too_big = make_wheel(tmp_path, "huge-tool", "1.0.0", size=MAX_UPLOAD_MB * 1024 * 1024 + 512 * 1024)
    result = twine_upload(stack.exports["uploadUrl"], too_big, USER, PASSWORD, ca=stack.front.ca)
    assert result.returncode != 0 and "413" in result.stdout + result.stderr, result.stdout + result.stderr
    assert not (stack.backend.packages / too_big.name).exists()
    # The refusal is in the front server's access log, the audit the README gives (with the user).
    wait_until_true(lambda: any(r["status"] == 413 for r in _front_log(stack)), 10)
    refused = [r for r in _front_log(stack) if r["status"] == 413]
    assert refused[-1]["request"]["method"] == "POST" and refused[-1].get("user_id") == USER, refused[-1]


def test_names_missing_here_are_not_sent_to_pypi(stack, uploaded):
    reply = stack.get("/simple/requests/", USER, PASSWORD)
    assert reply.status == 404, "fallback to pypi.org is off unless configured"


ROLES = {
    "uploader": ("ci", PASSWORDS["ci"]),
    "reader": ("alice", PASSWORDS["alice"]),
    "stranger": ("mallory", "x" * 16),
}
ALLOWED = {
    "uploader": {"list", "list-json", "download", "metadata", "upload"},
    "reader": {"list", "list-json", "download", "metadata"},
    "stranger": set(),
}


@pytest.mark.parametrize("role", sorted(ROLES))
def test_each_role_may_do_exactly_its_actions(stack, uploaded, tmp_path, role):
    """The role matrix, through the front server; pypiserver refuses a reader's upload on its own too."""
    user, password = ROLES[role]
    wait_listed(stack, "team-tool", uploaded.name)
    outcomes = {
        "list": stack.get("/simple/team-tool/", user, password).status,
        "list-json": http_get(stack.url("/simple/"), user, password, ca=stack.front.ca, accept=PIP_ACCEPT).status,
        "download": stack.get(f"/packages/{uploaded.name}", user, password).status,
        "metadata": stack.get(f"/packages/{uploaded.name}.metadata", user, password).status,
        "upload": upload(
            stack.exports["uploadUrl"], make_wheel(tmp_path, f"by-{role}", "1.0"), user, password, ca=stack.front.ca
        ).status,
    }
    allowed = {action for action, status in outcomes.items() if status == 200}
    assert allowed == ALLOWED[role], outcomes
    assert all(status == 401 for action, status in outcomes.items() if action not in allowed), outcomes
    if role == "reader":
        direct = upload(f"{stack.backend.url}/", make_wheel(tmp_path, "reader-direct", "1.0"), user, password)
        assert direct.status in (401, 403), "pypiserver itself refuses a reader's upload"


def test_a_changed_password_stops_working_at_once_despite_the_credential_cache(stack):
    old, new = READER_PASSWORD, "alice-new-password-5c7e2"
    assert stack.get("/simple/", "alice", old).status == 200  # verified once: now in the front's cache
    _apply_users(stack, staged(stack.https_port, users={**PASSWORDS, "alice": new}))
    try:
        assert stack.get("/simple/", "alice", old).status == 401, "the cached old password still works"
        assert stack.get("/simple/", "alice", new).status == 200
    finally:
        _apply_users(stack, staged(stack.https_port))


def _apply_users(stack: Stack, deployment: Deployment) -> None:
    """What the program's two steps do: replace the htpasswd file, then the Caddyfile and reload."""
    staged_file = stack.backend.htpasswd.with_suffix(".new")
    staged_file.write_text(reveal(deployment.named("pypi-htpasswd").inputs["stdin"]))
    staged_file.replace(stack.backend.htpasswd)
    backend_port = int(stack.backend.url.rsplit(":", 1)[1])
    stack.front.reload(
        reveal(deployment.named("pypi-caddyfile").inputs["stdin"]), backend_port, stack.https_port, free_port()
    )


def test_users_change_without_a_restart(stack, tmp_path):
    backend_pid, front_pid = stack.backend.process.pid, stack.front.process.pid
    users = {**PASSWORDS, "newcomer": "newcomer-password-9b1"}
    users.pop("alice")
    _apply_users(stack, staged(stack.https_port, users=users, uploaders=["ci", "newcomer"]))
    try:
        assert stack.get("/simple/", "newcomer", "newcomer-password-9b1").status == 200
        assert stack.get("/simple/", "alice", PASSWORDS["alice"]).status == 401
        wheel = make_wheel(tmp_path, "newcomer-tool", "0.1.0")
        result = twine_upload(stack.exports["uploadUrl"], wheel, "newcomer", "newcomer-password-9b1", ca=stack.front.ca)
        assert result.returncode == 0, result.stdout + result.stderr
        assert stack.backend.process.poll() is None and stack.backend.process.pid == backend_pid, "no restart"
        assert stack.front.process.poll() is None and stack.front.process.pid == front_pid, "a reload, not a restart"
    finally:
        _apply_users(stack, staged(stack.https_port))  # the module's other tests expect alice back


def test_new_salts_rewrite_every_hash_and_every_user_keeps_access_without_a_restart(stack, tmp_path):
    """What the first `up` with salts that no longer come from the passwords does to a running index:
    every hash in both files changes (here, with a new salt key), the passwords stay. pypiserver
    re-reads its file and the front server reloads: nobody is refused, nothing restarts."""
    backend_pid, front_pid = stack.backend.process.pid, stack.front.process.pid
    rekeyed = staged(stack.https_port, salt_key="another-salt-key-for-the-same-passwords")
    before, after = (reveal(d.named("pypi-htpasswd").inputs["stdin"]) for d in (staged(stack.https_port), rekeyed))
    assert before.startswith("ci:") and not set(before.splitlines()) & set(after.splitlines()), "every hash changes"
    _apply_users(stack, rekeyed)
    try:
        for user, password in PASSWORDS.items():
            assert stack.get("/simple/", user, password).status == 200, user
        wheel = make_wheel(tmp_path, "after-new-salts", "1.0.0")
        result = twine_upload(stack.exports["uploadUrl"], wheel, USER, PASSWORD, ca=stack.front.ca)
        assert result.returncode == 0, result.stdout + result.stderr  # pypiserver checked the new file too
        assert stack.backend.process.poll() is None and stack.backend.process.pid == backend_pid, "no restart"
        assert stack.front.process.poll() is None and stack.front.process.pid == front_pid, "a reload, not a restart"
    finally:
        _apply_users(stack, staged(stack.https_port))


def test_while_users_change_every_request_is_answered_or_dropped_unanswered_and_answered_when_resent(stack, uploaded):
    """Each users change reloads the front server. Caddy starts the new configuration beside the old
    one on the same port and then stops the old server; a request that reaches the old one in that
    moment is closed unanswered or reset (components/front/scripts.py). Polled every 50 ms through 20
    changes: never a refusal or an error status, and a dropped request is answered when sent again."""
    changed = staged(stack.https_port, users={**PASSWORDS, "newcomer": "newcomer-password-9b1"})
    as_before = staged(stack.https_port)
    wait_until_true(lambda: stack.get("/simple/", USER, PASSWORD).status == 200)  # the root page exists
    outcomes: list[str] = []
    stop = threading.Event()

    def poll() -> None:
        while not stop.is_set():
            try:
                reply, retried = retrying_a_dropped_connection(
                    lambda: http_get(stack.url("/simple/"), USER, PASSWORD, timeout=2, ca=stack.front.ca)
                )
                outcomes.append(f"{reply.status}" + (" when sent again" if retried else ""))
            except OSError as error:
                outcomes.append(f"{type(error).__name__}: {error}")
            time.sleep(0.05)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    try:
        for change in range(20):
            _apply_users(stack, changed if change % 2 == 0 else as_before)  # the last one restores
            time.sleep(0.1)
    finally:
        stop.set()
        poller.join()
    assert len(outcomes) >= 20, outcomes
    assert set(outcomes) <= {"200", "200 when sent again"}, sorted(set(outcomes))


def test_upload_without_a_length_is_refused_before_pypiserver(stack):
    """A chunked upload cannot be checked against the limit up front: the front server refuses it."""
    import base64
    import http.client
    import ssl

    context = ssl.create_default_context(cafile=str(stack.front.ca))
    conn = http.client.HTTPSConnection("127.0.0.1", stack.https_port, context=context, timeout=10)
    token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    body = iter(
        [b"--x\r\nContent-Disposition: form-data; name=content; filename=chunked-1.0.tar.gz\r\n\r\nabc\r\n--x--\r\n"]
    )
    conn.request(
        "POST", "/", body=body, encode_chunked=True,
        headers={"Authorization": f"Basic {token}", "Content-Type": "multipart/form-data; boundary=x"},
    )  # fmt: skip
    assert conn.getresponse().status == 411
    assert not (stack.backend.packages / "chunked-1.0.tar.gz").exists()


PIP_ACCEPT = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01"


def wait_listed(stack: Stack, project: str, filename: str) -> None:
    """Until the indexer's own page lists the file (before that, pypiserver answers for the project)."""
    page = stack.front.root / "index" / "simple" / project / "index.html"
    wait_until_true(lambda: page.exists() and filename in page.read_text())


def wait_until_true(probe, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not probe():
        assert time.monotonic() < deadline, f"the indexer did not write the page within {timeout} s"
        time.sleep(0.05)


def test_an_upload_is_listed_as_soon_as_it_is_answered(stack, tmp_path):
    """Read after write: pypiserver closes the file before it answers, and the indexer lists it on
    that close, not after the one-second settling that files it never saw closed wait for."""
    wheel = make_wheel(tmp_path, "prompt-tool", "1.0")
    assert upload(stack.exports["uploadUrl"], wheel, USER, PASSWORD, ca=stack.front.ca).status == 200
    wait_until_true(lambda: wheel.name.encode() in stack.get("/simple/prompt-tool/", USER, PASSWORD).body, timeout=0.5)


def test_the_same_urls_answer_pep_691_json_to_clients_that_ask(stack, uploaded):
    wait_listed(stack, "team-tool", uploaded.name)
    reply = http_get(stack.url("/simple/team-tool/"), USER, PASSWORD, ca=stack.front.ca, accept=PIP_ACCEPT)
    assert reply.status == 200 and reply.headers["Content-Type"] == "application/vnd.pypi.simple.v1+json"
    assert "Accept" in reply.headers["Vary"].split(", ")
    page = json.loads(reply.body)
    assert page["meta"] == {"api-version": "1.1"} and page["name"] == "team-tool" and page["versions"] == ["1.0.0"]
    (entry,) = page["files"]
    assert entry["filename"] == uploaded.name and entry["url"] == f"../../packages/{uploaded.name}"
    assert entry["hashes"] == {"sha256": hashlib.sha256(uploaded.read_bytes()).hexdigest()}
    assert entry["size"] == uploaded.stat().st_size and re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", entry["upload-time"]
    )
    assert entry["core-metadata"] == entry["dist-info-metadata"] and entry["yanked"] is False
    root = json.loads(http_get(stack.url("/simple/"), USER, PASSWORD, ca=stack.front.ca, accept=PIP_ACCEPT).body)
    assert {"name": "team-tool"} in root["projects"] and root["meta"]["api-version"] == "1.1"
    html_page = stack.get("/simple/team-tool/", USER, PASSWORD)
    assert b'<meta name="pypi:repository-version" content="1.1">' in html_page.body
    assert "Accept" in html_page.headers["Vary"].split(", ") and html_page.headers["Content-Type"].startswith(
        "text/html"
    )
    refused = http_get(
        stack.url("/simple/team-tool/"), USER, "wrong-password-123", ca=stack.front.ca, accept=PIP_ACCEPT
    )
    assert refused.status == 401, "the JSON pages are protected like the HTML ones"


def test_core_metadata_is_served_beside_each_wheel_and_advertised_with_its_hash(stack, uploaded):
    wait_listed(stack, "team-tool", uploaded.name)
    page = json.loads(
        http_get(stack.url("/simple/team-tool/"), USER, PASSWORD, ca=stack.front.ca, accept=PIP_ACCEPT).body
    )
    advertised = page["files"][0]["core-metadata"]["sha256"]
    metadata = stack.get(f"/packages/{uploaded.name}.metadata", USER, PASSWORD)
    with zipfile.ZipFile(uploaded) as wheel:
        expected = wheel.read("team_tool-1.0.0.dist-info/METADATA")
    assert metadata.status == 200 and metadata.body == expected
    assert hashlib.sha256(metadata.body).hexdigest() == advertised
    html_page = stack.get("/simple/team-tool/", USER, PASSWORD).body.decode()
    assert f'data-core-metadata="sha256={advertised}"' in html_page
    assert f'data-dist-info-metadata="sha256={advertised}"' in html_page
    assert stack.get(f"/packages/{uploaded.name}.metadata", USER, "wrong-password-123").status == 401


def test_pip_resolves_from_the_metadata_without_downloading_the_wheel(stack, uploaded, tmp_path):
    """The wheel in the store is swapped for garbage of the same size and time (the indexer sees no
    change): a resolver that fetched it would fail its hash check; pip reads the metadata instead."""
    wait_listed(stack, "team-tool", uploaded.name)
    stored = stack.backend.packages / uploaded.name
    original, stat = stored.read_bytes(), stored.stat()

    def swap_in(content: bytes) -> None:
        # Written aside with the original's time, then renamed in: the indexer, which reacts to a
        # rename at once, finds the size and time it knows. (Written in place, it could read the
        # file before its time is set back, and list the garbage.)
        staged = stored.with_name(".swap")
        staged.write_bytes(content)
        os.utime(staged, ns=(stat.st_atime_ns, stat.st_mtime_ns))
        os.replace(staged, stored)

    try:
        swap_in(os.urandom(len(original)))
        result = pip_report(stack, tmp_path, "team-tool")
        assert result.returncode == 0, result.stdout + result.stderr
        report = json.loads((tmp_path / "report.json").read_text())
        assert [item["metadata"]["version"] for item in report["install"]] == ["1.0.0"]
    finally:
        swap_in(original)


def test_requires_python_is_advertised_and_honoured_before_any_download(stack, tmp_path):
    wheel = make_wheel(tmp_path, "future-tool", "1.0.0", requires_python=">=3.99,<4")
    assert twine_upload(stack.exports["uploadUrl"], wheel, USER, PASSWORD, ca=stack.front.ca).returncode == 0
    wait_listed(stack, "future-tool", wheel.name)
    assert b'data-requires-python="&gt;=3.99,&lt;4"' in stack.get("/simple/future-tool/", USER, PASSWORD).body
    page = json.loads(
        http_get(stack.url("/simple/future-tool/"), USER, PASSWORD, ca=stack.front.ca, accept=PIP_ACCEPT).body
    )
    assert page["files"][0]["requires-python"] == ">=3.99,<4"
    result = pip_report(stack, tmp_path, "future-tool")
    assert result.returncode != 0 and "Requires-Python" in result.stdout + result.stderr, result.stderr[-1000:]


def pip_report(stack: Stack, work: Path, name: str) -> subprocess.CompletedProcess:
    """`pip install --dry-run --report` through the program's pip.conf: resolution only."""
    home = work / "home"
    home.mkdir(exist_ok=True)
    conf = home / "pip.conf"
    conf.write_text(stack.exports["pipConf"])
    (home / ".netrc").write_text(f"machine 127.0.0.1\nlogin {USER}\npassword {PASSWORD}\n")
    (home / ".netrc").chmod(0o600)
    env = client_env(HOME=str(home), PIP_CONFIG_FILE=str(conf), PIP_CERT=str(stack.front.ca), PIP_NO_INPUT="1")
    return subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--no-cache-dir", "--no-deps", "--ignore-installed",
         "--report", str(work / "report.json"), name],
        capture_output=True, text=True, env=env, timeout=180,
    )  # fmt: skip


def test_uploads_pause_while_the_disk_is_nearly_full(stack, tmp_path):
    """The indexer raises the pause flag when the disk could not take the largest upload and keep its
    margin; the front server then answers 507 before a byte is stored."""
    indexer = stack.front.indexer
    wheel = make_wheel(tmp_path, "while-full", "1.0.0")
    try:
        indexer.disk.upload_limit = 1 << 60  # more than any disk has: "nearly full" on every machine
        assert indexer.disk.check()
        reply = upload(stack.exports["uploadUrl"], wheel, USER, PASSWORD, ca=stack.front.ca)
        assert reply.status == 507 and b"disk is nearly full" in reply.body, reply
        assert not (stack.backend.packages / wheel.name).exists()
        wait_until_true(lambda: any(r["status"] == 507 for r in _front_log(stack)), 10)
        refused = [r for r in _front_log(stack) if r["status"] == 507]
        assert refused[-1]["request"]["method"] == "POST" and refused[-1].get("user_id") == USER, refused[-1]
        assert stack.get("/simple/", USER, PASSWORD).status == 200, "downloads and pages go on"
    finally:
        indexer.disk.upload_limit = 0
        paused = indexer.disk.check()
    if not paused:  # this machine's disk has room: uploads resume
        assert upload(stack.exports["uploadUrl"], wheel, USER, PASSWORD, ca=stack.front.ca).status == 200


def test_a_request_for_pypiserver_waits_while_it_is_away(stack, tmp_path):
    """Caddy retries failed dials (routes.BACKEND_WAIT): while pypiserver is replaced or restarts,
    requests for it (uploads, /health, unknown pages) are held, not failed. Runs last: it restarts
    the module's pypiserver."""
    stack.backend.stop()
    result: dict = {}

    def ask() -> None:
        started = time.monotonic()
        result["reply"] = stack.get("/health")
        result["waited"] = time.monotonic() - started

    waiting = threading.Thread(target=ask)
    waiting.start()
    time.sleep(3)
    assert waiting.is_alive(), f"answered while pypiserver was down: {result}"
    stack.backend.start()
    waiting.join(timeout=40)
    assert result["reply"].status == 200 and result["reply"].body == b"Ok", result
    assert result["waited"] >= 3, result
    wheel = make_wheel(tmp_path, "after-the-wait", "1.0.0")
    assert twine_upload(stack.exports["uploadUrl"], wheel, USER, PASSWORD, ca=stack.front.ca).returncode == 0


def test_a_yanked_release_is_skipped_unless_pinned_and_unyanking_restores_it(stack, tmp_path):
    """PEP 592 as pip reads it: the program writes the yank list where the indexer renders from."""
    for version in ("1.0", "1.1"):
        wheel = make_wheel(tmp_path, "yank-tool", version)
        assert upload(stack.exports["uploadUrl"], wheel, USER, PASSWORD, ca=stack.front.ca).status == 200
    yank_file = stack.front.root / "index" / "yanked.json"
    page = stack.front.root / "index" / "simple" / "yank-tool" / "index.html"

    def installed(requirement: str, run: str) -> tuple[str, str]:
        result = pip_install(
            tmp_path / run / "home", stack.exports["pipConf"], "127.0.0.1", USER, PASSWORD, requirement,
            tmp_path / run / "site", ca=stack.front.ca,
        )  # fmt: skip
        assert result.returncode == 0, result.stdout + result.stderr
        return (tmp_path / run / "site" / "yank_tool" / "__init__.py").read_text(), result.stdout + result.stderr

    def uv_installed(requirement: str, run: str) -> tuple[str, str]:
        """uv, as the README says it treats a yank too (its JSON pages: uv asks for PEP 691 first)."""
        index = stack.exports["indexUrl"].replace("https://", f"https://{USER}:{PASSWORD}@")
        target = tmp_path / run / "uv-site"
        env = client_env(SSL_CERT_FILE=str(stack.front.ca), UV_CACHE_DIR=str(tmp_path / run / "uv-cache"))
        result = subprocess.run(
            [str(Path(sys.executable).parent / "uv"), "pip", "install", "--no-config", "--python", sys.executable,
             "--index-url", index, "--target", str(target), requirement],
            env=env, capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        assert result.returncode == 0, result.stdout + result.stderr
        return (target / "yank_tool" / "__init__.py").read_text(), result.stdout + result.stderr

    yank_file.write_text(json.dumps({"yank-tool": {"1.1": "broken wheel"}}))
    wait_until_true(lambda: page.exists() and 'data-yanked="broken wheel"' in page.read_text())
    assert installed("yank-tool", "unpinned")[0] == 'VERSION = "1.0"\n', "installers skip a yanked release"
    pinned, output = installed("yank-tool==1.1", "pinned")
    assert pinned == 'VERSION = "1.1"\n' and "broken wheel" in output, "a pin still installs it, with the reason"
    assert uv_installed("yank-tool", "uv-unpinned")[0] == 'VERSION = "1.0"\n', "uv skips it too"
    uv_pinned, uv_output = uv_installed("yank-tool==1.1", "uv-pinned")
    assert uv_pinned == 'VERSION = "1.1"\n' and "broken wheel" in uv_output, "a pin installs it, with the reason"

    yank_file.write_text("{}")
    wait_until_true(lambda: "data-yanked" not in page.read_text())
    assert installed("yank-tool", "unyanked")[0] == 'VERSION = "1.1"\n'


def audit_lines(stack: Stack) -> list[str]:
    return [line for line in stack.backend.log.read_text().splitlines() if line.startswith("audit: ")]


def test_every_upload_and_removal_is_audited_with_user_file_sha256_and_time(stack, tmp_path):
    """The gunicorn hook the program installs: one line per upload or removal, in pypiserver's log
    (the journal, on a host), with the user and never the password."""
    wheel = make_wheel(tmp_path, "audited-tool", "1.0")
    assert upload(stack.exports["uploadUrl"], wheel, USER, PASSWORD, ca=stack.front.ca).status == 200
    assert upload(stack.exports["uploadUrl"], wheel, USER, PASSWORD, ca=stack.front.ca).status in (400, 409)
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    stored = f"file={wheel.name} sha256={digest} size={wheel.stat().st_size}"
    wait_until_true(lambda: any(stored in line for line in audit_lines(stack)))
    record = next(line for line in audit_lines(stack) if stored in line)
    assert re.fullmatch(rf"audit: upload user=ci status=200 time=\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\dZ {stored}", record)
    refused = "audit: upload user=ci status=409 "
    wait_until_true(lambda: any(refused in line and wheel.name in line for line in audit_lines(stack)))
    # pypiserver finds a release by the name as its files spell it
    removal = remove(stack.exports["uploadUrl"], "audited_tool", "1.0", USER, PASSWORD, ca=stack.front.ca)
    assert removal.status == 200 and not (stack.backend.packages / wheel.name).exists()
    wait_until_true(lambda: any("audit: remove user=ci status=200" in line for line in audit_lines(stack)))
    removed = rf"audit: remove user=ci status=200 time=\S+ project=audited_tool version=1\.0 {re.escape(stored)}$"
    assert any(re.search(removed, line) for line in audit_lines(stack)), audit_lines(stack)
    missing = remove(stack.exports["uploadUrl"], "audited_tool", "9.9", USER, PASSWORD, ca=stack.front.ca)
    assert missing.status == 404
    wait_until_true(
        lambda: any(
            line.startswith("audit: remove user=ci status=404 ") and line.endswith("project=audited_tool version=9.9")
            for line in audit_lines(stack)
        )
    )
    assert PASSWORD not in stack.backend.log.read_text(), "never the password"


def pages_list(stack: Stack) -> dict[str, set[str]]:
    """Every project the root page names -> the files its JSON page lists (what clients see)."""
    accept = "application/vnd.pypi.simple.v1+json"
    root = json.loads(http_get(stack.url("/simple/"), USER, PASSWORD, ca=stack.front.ca, accept=accept).body)
    listed = {}
    for project in root["projects"]:
        page = http_get(stack.url(f"/simple/{project['name']}/"), USER, PASSWORD, ca=stack.front.ca, accept=accept)
        listed[project["name"]] = {f["filename"] for f in json.loads(page.body)["files"]}
    return listed


def store_list(stack: Stack) -> dict[str, set[str]]:
    from components.in_container.index_rules import project_of

    stored: dict[str, set[str]] = {}
    for path in stack.backend.packages.iterdir():
        stored.setdefault(project_of(path.name) or f"UNSERVED {path.name}", set()).add(path.name)
    return stored


def test_no_upload_is_stored_unserved_or_as_a_second_spelling_and_the_pages_are_the_store(stack, tmp_path):
    """Adversarial names through the front server and the real pypiserver behind the program's guard."""
    released = make_wheel(tmp_path / "released", "spelled-tool", "1.0")
    assert upload(stack.exports["uploadUrl"], released, USER, PASSWORD, ca=stack.front.ca).status == 200
    attempts = {
        # pypiserver stores all of these; a PEP 503 reader lists them elsewhere or nowhere
        "foo-1.0-beta.tar.gz": 400,
        ".hidden-1.0.tar.gz": 400,
        "foo.zip": 400,
        # the same release under another spelling of its name or version: a second, different file
        "Spelled.Tool-1.0-py3-none-any.whl": 409,
        "SPELLED_TOOL-1.0.0-py3-none-any.whl": 409,
        # allowed: another file of the same release, and a new release
        "spelled_tool-1.0.tar.gz": 200,
        "spelled_tool-1.1-py3-none-any.whl": 200,
    }
    for name, expected in attempts.items():
        other = tmp_path / "attempts" / name
        other.parent.mkdir(exist_ok=True)
        other.write_bytes(b"a different file " + name.encode())
        answer = upload(stack.exports["uploadUrl"], other, USER, PASSWORD, ca=stack.front.ca)
        assert answer.status == expected, (name, answer.status, answer.body[:300])
        if expected != 200:
            assert name.encode() in answer.body, "the refusal names the file"
            assert not (stack.backend.packages / name).exists(), f"{name}: refused and still stored"
    assert (stack.backend.packages / released.name).read_bytes() == released.read_bytes(), "the release is intact"
    # A removal through pypiserver's API and one by hand: the pages follow the store.
    assert remove(stack.exports["uploadUrl"], "spelled_tool", "1.1", USER, PASSWORD, ca=stack.front.ca).status == 200
    (stack.backend.packages / "spelled_tool-1.0.tar.gz").unlink()
    wait_until_true(lambda: pages_list(stack) == store_list(stack))
    assert pages_list(stack)["spelled-tool"] == {released.name}


# Every other spelling of the exempt path a client can send: case, dot segments, double slashes,
# percent-encoding of a separator, a trailing slash or suffix. None may reach pypiserver unchecked.
NOT_HEALTH = [
    "/HEALTH", "/Health", "/health/", "/health/.", "/./health", "/x/../health", "/health/../health",
    "//health", "/health//", "/%2Fhealth", "/health%2F", "/health/x", "/healthz", "/health;x",
    "/health/../simple/", "/health%2F..%2Fsimple%2F", "/%2E/health", "/health%00",
]  # fmt: skip
# The same path as pypiserver sees it (its server percent-decodes): the health check itself.
HEALTH_SPELLED = ["/health", "/%68ealth", "/heal%74h", "/health?verbose=1"]


@pytest.mark.parametrize("path", NOT_HEALTH)
def test_only_the_health_check_itself_is_open_every_other_spelling_asks_for_credentials(stack, path):
    answer = http_get(stack.url(path), ca=stack.front.ca, follow_redirects=False)
    assert answer.status == 401, (path, answer.status, answer.body[:200])
    assert "www-authenticate" in {k.lower() for k in answer.headers}, "the front server asked, not pypiserver"


@pytest.mark.parametrize("path", HEALTH_SPELLED)
def test_the_health_check_needs_no_password_however_it_is_encoded(stack, path):
    answer = http_get(stack.url(path), ca=stack.front.ca, follow_redirects=False)
    assert answer.status == 200, (path, answer.status, answer.body[:200])


@pytest.mark.parametrize(
    ("path", "location"),
    [
        ("/simple", "/simple/"),
        ("/simple/team-tool", "/simple/team-tool/"),
        ("/simple/Team_Tool/", "/simple/team-tool/"),
        ("/simple/TEAM.TOOL/", "/simple/team-tool/"),
        ("/simple/team__tool/", "/simple/team-tool/"),
        ("/simple/team--tool/", "/simple/team-tool/"),
        ("/simple/Team-._Tool/", "/simple/team-tool/"),
        ("/simple/Team.Tool", "/simple/Team.Tool/"),  # first its slash, then its name
    ],
)
@pytest.mark.parametrize("accept", ["text/html", "application/vnd.pypi.simple.v1+json"])
def test_names_as_clients_write_them_are_redirected_to_their_pep_503_page(stack, uploaded, path, location, accept):
    # alice may only read: pypiserver, whose password file names only uploaders, would refuse her.
    answer = http_get(
        stack.url(path), "alice", READER_PASSWORD, ca=stack.front.ca, accept=accept, follow_redirects=False
    )
    assert answer.status == 301 and answer.headers.get("Location") == location, (path, answer.status, answer.headers)
    assert http_get(stack.url(path), ca=stack.front.ca, follow_redirects=False).status == 401, "not without credentials"
    followed = http_get(stack.url(path), "alice", READER_PASSWORD, ca=stack.front.ca, accept=accept)
    assert followed.status == 200 and b"team" in followed.body, (path, followed.status)
