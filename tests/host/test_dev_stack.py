"""The README's first command: the dev stack applied to this machine's own Docker engine (no SSH)."""

from __future__ import annotations

import os
import subprocess

from index_client import http_get, make_wheel, pip_install, twine_upload
from recorded import run_program, stack_config

from .applier import Applier, changes_only
from .commands import figure, wait_until
from .engine_api import EngineClient
from .machine import free_port


def docker_inspect(name: str, template: str) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", "inspect", "--format", template, name], capture_output=True, text=True)


def test_dev_stack_on_the_local_engine(host_images, tmp_path):
    port = free_port()
    # The committed dev config; only the port and names differ, so a developer's own dev index
    # on this machine (port 8443, container `pypiserver`) is left alone.
    config = {
        **stack_config("dev"),
        "httpsPort": str(port),
        "containerName": "pypiserver-devtest",
        "packagesVolume": "pypiserver-devtest-packages",
    }
    deployment = run_program("dev", config)
    applier = Applier(identity_file=tmp_path / "unused")
    engine = EngineClient(os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock").version()
    figure(f"ENGINE docker {engine['Version']} API {engine['ApiVersion']} (this machine's engine: the dev stack)")
    try:
        applier.up(deployment)
        assert changes_only(applier.plan(deployment)) == [], "a second up changes nothing"
        for name in ("pypiserver-devtest", "pypiserver-devtest-front", "pypiserver-devtest-indexer"):
            policy = docker_inspect(name, "{{.HostConfig.RestartPolicy.Name}}").stdout.strip()
            assert policy == "unless-stopped", f"{name}: no systemd in dev, Docker supervises"
        published = docker_inspect("pypiserver-devtest", "{{json .NetworkSettings.Ports}}").stdout
        assert published.strip() in ("{}", "null", '{"8080/tcp":null}'), f"pypiserver is never published: {published}"
        ca = tmp_path / "ca.pem"
        ca.write_text(applier.outputs("pypi-ca")["stdout"])
        exports = deployment.exports
        assert exports["indexUrl"] == f"https://127.0.0.1:{port}/simple/"
        wheel = make_wheel(tmp_path, "dev-tool", "0.0.1")
        # No authentication in dev: twine still wants a user name and password, any will do.
        result = twine_upload(exports["uploadUrl"], wheel, "dev", "dev", ca=ca)
        assert result.returncode == 0, result.stdout + result.stderr
        installed = pip_install(
            tmp_path / "home", exports["pipConf"], "127.0.0.1", "dev", "dev", "dev-tool", tmp_path / "site", ca=ca
        )
        assert installed.returncode == 0, installed.stdout + installed.stderr
        assert http_get(f"https://127.0.0.1:{port}/simple/", ca=ca).status == 200
        # Yanking as code: one config entry and an `up`; the page marks the release, nothing else changes.
        yanked = run_program("dev", {**config, "yanked": ["dev-tool==0.0.1: superseded"]})
        assert [(s.name, s.op) for s in changes_only(applier.plan(yanked))] == [("pypi-yanked", "update")]
        applier.up(yanked)
        wait_until(
            "the page to mark the yanked release",
            lambda: 'data-yanked="superseded"' in http_get(f"{exports['indexUrl']}dev-tool/", ca=ca).body.decode(),
            15,
            0.2,
        )
    finally:
        applier.destroy(exclude_protected=False)
    assert docker_inspect("pypiserver-devtest", "{{.Id}}").returncode != 0, "destroy removes the dev container"
    volume = subprocess.run(["docker", "volume", "inspect", "pypiserver-devtest-packages"], capture_output=True)
    assert volume.returncode != 0, "dev's package volume is not retained"
