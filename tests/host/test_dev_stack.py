"""The README's first command: the dev stack deployed by the real engine onto this machine's own
Docker engine (no SSH), then used, changed and destroyed."""

from __future__ import annotations

import subprocess

from tests.support.engine import RealStack, project_copy
from tests.support.index_client import http_get, make_wheel, pip_install, twine_upload
from tests.support.recorded import stack_config

from .commands import docker, figure, wait_until
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
    engine = docker("version", "--format", "{{.Server.Version}} API {{.Server.APIVersion}}").stdout.strip()
    figure(f"ENGINE docker {engine} (this machine's engine: the dev stack)")
    stack = RealStack(project_copy(tmp_path / "project"), "dev", tmp_path / "state", engine_label=f"docker {engine}")
    stack.configure(config)
    try:
        stack.up()
        for name in ("pypiserver-devtest", "pypiserver-devtest-front", "pypiserver-devtest-indexer"):
            policy = docker_inspect(name, "{{.HostConfig.RestartPolicy.Name}}").stdout.strip()
            assert policy == "unless-stopped", f"{name}: no systemd in dev, Docker supervises"
        published = docker_inspect("pypiserver-devtest", "{{json .NetworkSettings.Ports}}").stdout
        assert published.strip() in ("{}", "null", '{"8080/tcp":null}'), f"pypiserver is never published: {published}"
        exports = stack.outputs()
        ca = tmp_path / "ca.pem"
        ca.write_text(exports["caCertificate"])
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
        stack.configure({**config, "yanked": ["dev-tool==0.0.1: superseded"]})
        assert [(s.name, s.op) for s in stack.planned_steps()] == [("pypi-yanked", "update")]
        stack.up()
        wait_until(
            "the page to mark the yanked release",
            lambda: 'data-yanked="superseded"' in http_get(f"{exports['indexUrl']}dev-tool/", ca=ca).body.decode(),
            15,
            0.2,
        )
    finally:
        stack.destroy(exclude_protected=False)
        stack.remove()
    assert docker_inspect("pypiserver-devtest", "{{.Id}}").returncode != 0, "destroy removes the dev container"
    volume = subprocess.run(["docker", "volume", "inspect", "pypiserver-devtest-packages"], capture_output=True)
    assert volume.returncode != 0, "dev's package volume is not retained"
