"""Real behaviour: the real pypiserver (the version the image tag pins, with the image's library pins)
run with exactly the arguments and htpasswd file the program produces, driven by twine and pip."""

from __future__ import annotations

import pytest
from test_program import PASSWORDS, deploy

from components.htpasswd import render_htpasswd
from host.machine import free_port
from index_client import http_get, make_wheel, pip_install, twine_upload
from real_pypiserver import running_index
from recorded import reveal

USER, PASSWORD = "ci", PASSWORDS["ci"]


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    port = free_port()
    deployment = deploy("staging", publicUrl=f"http://127.0.0.1:{port}")
    container = deployment.one("docker:index/container:Container").plain
    htpasswd = reveal(deployment.named("pypi-htpasswd").inputs["stdin"])
    image_tag = deployment.one("docker:index/remoteImage:RemoteImage").plain["name"].split(":")[1]
    workdir = tmp_path_factory.mktemp("pypiserver")
    with running_index(container["command"], htpasswd, workdir, image_tag, port) as running:
        yield running, deployment.exports


@pytest.fixture(scope="module")
def uploaded(index, tmp_path_factory):
    _running, exports = index
    wheel = make_wheel(tmp_path_factory.mktemp("dist"), "team-tool", "1.0.0")
    result = twine_upload(exports["uploadUrl"], wheel, USER, PASSWORD)
    assert result.returncode == 0, result.stdout + result.stderr
    return wheel


def test_health_needs_no_password(index):
    running, _ = index
    reply = http_get(f"{running.url}/health")
    assert reply.status == 200 and reply.body == b"Ok"


def test_upload_then_pip_install_with_the_pip_conf_output(index, uploaded, tmp_path):
    running, exports = index
    assert (running.packages / uploaded.name).is_file()
    result = pip_install(
        tmp_path / "home", exports["pipConf"], "127.0.0.1", USER, PASSWORD, "team-tool", tmp_path / "site"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "site" / "team_tool" / "__init__.py").read_text() == 'VERSION = "1.0.0"\n'


def test_pip_install_with_a_wrong_password_fails(index, uploaded, tmp_path):
    _, exports = index
    result = pip_install(
        tmp_path / "home", exports["pipConf"], "127.0.0.1", USER, "wrong-password-123", "team-tool", tmp_path / "site"
    )
    assert result.returncode != 0
    assert not (tmp_path / "site" / "team_tool").exists()


@pytest.mark.parametrize(
    "credentials", [None, (USER, "wrong-password-123"), ("nobody", PASSWORD)], ids=["missing", "wrong", "unknown-user"]
)
def test_list_and_download_refuse_bad_credentials(index, uploaded, credentials):
    running, _ = index
    auth = credentials or (None, None)
    for path in ("/simple/", "/simple/team-tool/", f"/packages/{uploaded.name}"):
        assert http_get(running.url + path, *auth).status in (401, 403), path
    for path in ("/simple/", "/simple/team-tool/", f"/packages/{uploaded.name}"):
        assert http_get(running.url + path, USER, PASSWORD).status == 200, path


@pytest.mark.parametrize("password", ["wrong-password-123", ""], ids=["wrong", "empty"])
def test_upload_refuses_bad_credentials(index, tmp_path, password):
    _, exports = index
    wheel = make_wheel(tmp_path, "intruder", "6.6.6")
    result = twine_upload(exports["uploadUrl"], wheel, USER, password)
    assert result.returncode != 0
    assert "403" in result.stdout + result.stderr or "401" in result.stdout + result.stderr


def test_reupload_of_the_same_file_is_refused(index, uploaded):
    running, exports = index
    before = (running.packages / uploaded.name).read_bytes()
    result = twine_upload(exports["uploadUrl"], uploaded, USER, PASSWORD)
    # pypiserver answers 409, or 400 to twine (which treats 400 as "exists", pypa/twine#1265).
    assert result.returncode != 0 and "400 Bad Request" in result.stdout + result.stderr, result.stdout + result.stderr
    assert (running.packages / uploaded.name).read_bytes() == before


def test_unknown_names_are_not_sent_to_pypi(index, uploaded):
    running, _ = index
    reply = http_get(f"{running.url}/simple/requests/", USER, PASSWORD)
    assert reply.status == 404, "fallback to pypi.org is off unless configured"


def test_users_change_without_a_restart(index, tmp_path):
    running, exports = index
    pid = running.process.pid
    users = {**PASSWORDS, "newcomer": "newcomer-password-9b1"}
    users.pop("alice")
    # What the program writes for the new config: same context, same rounds.
    deployment = deploy("staging", users=users)
    new_text = reveal(deployment.named("pypi-htpasswd").inputs["stdin"])
    assert new_text == render_htpasswd(users, "pypi-index/staging", 10)
    staged = running.htpasswd.with_suffix(".new")
    staged.write_text(new_text)
    staged.replace(running.htpasswd)  # the same rename the program's script does
    assert http_get(f"{running.url}/simple/", "newcomer", "newcomer-password-9b1").status == 200
    assert http_get(f"{running.url}/simple/", "alice", PASSWORDS["alice"]).status in (401, 403)
    wheel = make_wheel(tmp_path, "newcomer-tool", "0.1.0")
    result = twine_upload(exports["uploadUrl"], wheel, "newcomer", "newcomer-password-9b1")
    assert result.returncode == 0, result.stdout + result.stderr
    assert running.process.poll() is None and running.process.pid == pid, "no restart"
