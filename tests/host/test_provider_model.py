"""The Docker provider model against real engines: what each daemon stores, and what the model makes
of it. One test per behaviour the deployment depends on; each runs on every test host (Debian 12's
docker.io 20.10, API 1.41, and Debian 13's docker.io 26.1, API 1.45), whose daemons carry default
log options (files/host/daemon.json).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from components.host import scripts

from .command_provider import identity_ssh_options
from .docker_provider import CONTAINER, DockerProvider, ProviderError, diff
from .engine_api import EngineClient, version_tuple
from .machine import TestHost

IMAGE = "caddy:2.11.7"  # a stand-in image every host has, with a shell and sleep
PYPISERVER = "pypiserver/pypiserver:v2.4.1"


@pytest.fixture(scope="module")
def docker(engine_host: TestHost) -> DockerProvider:
    """The provider model talking to the host's engine as pulumi-docker would (ssh dial-stdio)."""
    if not engine_host.has_engine:
        # Normally test_deploy's bootstrap has installed it by now; the product's script does it here too.
        engine_host.ssh(scripts.docker_bootstrap(), timeout=900)
        assert engine_host.images is not None
        engine_host.load_images(*engine_host.images.standins)
    opts = [
        "-o", "StrictHostKeyChecking=yes", "-o", f"UserKnownHostsFile={engine_host.known_hosts_path}",
        "-o", "GlobalKnownHostsFile=/dev/null", *identity_ssh_options(engine_host.private_key_path),
    ]  # fmt: skip
    return DockerProvider(EngineClient(engine_host.docker_host, opts))


@pytest.fixture
def made(docker: DockerProvider) -> Iterator[list[dict]]:
    """Containers a test created through the model; removed afterwards."""
    created: list[dict] = []
    yield created
    for state in created:
        docker.container_delete({**state, "destroyGraceSeconds": 0})


def container(**changes) -> dict:
    name = f"model-{uuid.uuid4().hex[:8]}"
    return {"name": name, "image": IMAGE, "entrypoints": ["sleep", "300"], "restart": "no", **changes}


def create(docker: DockerProvider, made: list[dict], inputs: dict) -> dict:
    state = docker.container_create(inputs)
    made.append(state)
    return state


def test_log_options_read_back_merged_with_the_daemons_defaults(docker, made):
    """containerLogOptsForState stores the daemon's map (mergeAndVerifyLogConfig added its defaults)."""
    old_style = container(logDriver="json-file", logOpts={"max-size": "10m"})
    state = create(docker, made, old_style)
    assert state["logOpts"] == {"max-size": "10m", "max-file": "3", "compress": "true"}, state["logOpts"]
    assert diff(CONTAINER, state, old_style).replace == ["logOpts"], "every up would replace such a container"
    ours = container(logDriver="local")
    assert not diff(CONTAINER, create(docker, made, ours), ours).changed


def test_capabilities_read_back_as_the_go_client_spelled_them(docker, made):
    short = container(capabilities={"adds": ["NET_BIND_SERVICE"], "drops": ["ALL"]})
    state = create(docker, made, short)
    assert state["capabilities"] == {"adds": ["CAP_NET_BIND_SERVICE"], "drops": ["ALL"]}
    assert diff(CONTAINER, state, short).replace == ["capabilities"]
    spelled = container(capabilities={"adds": ["CAP_NET_BIND_SERVICE"], "drops": ["ALL"]})
    assert not diff(CONTAINER, create(docker, made, spelled), spelled).changed


def test_memory_and_swap_read_back(docker, made):
    limited = container(memory=128, memorySwap=-1)
    state = create(docker, made, limited)
    assert (state["memory"], state["memorySwap"]) == (128, -1)
    assert not diff(CONTAINER, state, limited).changed


def test_volume_options_need_api_1_45(docker, made):
    mount = {"type": "volume", "source": f"model-{uuid.uuid4().hex[:8]}", "target": "/srv/v"}
    with_options = container(mounts=[{**mount, "volumeOptions": {"noCopy": True}}])
    if version_tuple(docker.client.api_version) < (1, 45):
        with pytest.raises(ProviderError, match=r"requires docker version 1\.45"):
            docker.container_create(with_options)
    else:
        state = create(docker, made, with_options)
        assert state["mounts"][0]["volumeOptions"] == {"noCopy": True}
        docker.container_delete({**made.pop(), "destroyGraceSeconds": 0})
    docker.client.call("DELETE", f"/volumes/{mount['source']}", query={"force": "1"})


def test_the_package_volume_keeps_its_owner_where_the_image_has_no_mount_point(docker, made):
    """moby: an empty volume takes the image's directory at the mount point, owner included, at
    create; not when the image has no such path. That is why the front server and the indexer mount
    the packages at /srv/packages, and why that needs no volume_options."""
    volume = f"model-{uuid.uuid4().hex[:8]}"
    mount = {"type": "volume", "source": volume}
    try:
        chown = {"name": f"model-{uuid.uuid4().hex[:8]}", "image": PYPISERVER, "user": "0:0",
                 "entrypoints": ["sh", "-c", "chown 9898:9898 /data/packages && sleep 300"],
                 "mounts": [{**mount, "target": "/data/packages"}]}  # fmt: skip
        create(docker, made, chown)
        for image in (IMAGE, PYPISERVER):  # the front server's image and the indexer's
            reader = container(image=image, entrypoints=["stat", "-c", "%u", "/srv/packages"], mustRun=False)
            reader["mounts"] = [{**mount, "target": "/srv/packages", "readOnly": True}]
            create(docker, made, reader)
        owner = container(image=PYPISERVER, entrypoints=["stat", "-c", "%u", "/srv/packages"])
        owner["mounts"] = [{**mount, "target": "/srv/packages", "readOnly": True}]
        state = create(docker, made, owner)
        docker.client.call("POST", f"/containers/{state['id']}/wait")
        logs = docker.client.call("GET", f"/containers/{state['id']}/logs", query={"stdout": "1"}, stream=True)
        assert logs.strip().endswith("9898"), f"the volume's owner after the readers: {logs!r}"
        # The counter-check: where the image HAS the directory (root's), an empty volume takes its owner.
        fresh = f"model-{uuid.uuid4().hex[:8]}"
        copier = container(image=PYPISERVER, entrypoints=["stat", "-c", "%u", "/data/packages"])
        copier["mounts"] = [{"type": "volume", "source": fresh, "target": "/data/packages"}]
        state = create(docker, made, copier)
        docker.client.call("POST", f"/containers/{state['id']}/wait")
        logs = docker.client.call("GET", f"/containers/{state['id']}/logs", query={"stdout": "1"}, stream=True)
        assert logs.strip().endswith("0"), f"copy-up gives the image's owner (root): {logs!r}"
    finally:
        for state in made:
            docker.container_delete({**state, "destroyGraceSeconds": 0})
        made.clear()
        for name in (volume, locals().get("fresh")):
            if name:
                docker.client.call("DELETE", f"/volumes/{name}", query={"force": "1"})


def test_a_healthcheck_update_reaches_only_the_state(docker, made):
    """resourceDockerContainerUpdate never reads healthcheck: only a replacement applies it."""
    health = {"tests": ["CMD", "true"], "interval": "15s", "timeout": "5s", "startPeriod": "10s", "retries": 3}
    first = container(healthcheck=health)
    state = create(docker, made, first)
    changed = {**first, "healthcheck": {**health, "interval": "30s"}}
    changes = diff(CONTAINER, state, changed)
    assert changes.update == ["healthcheck"] and not changes.replace
    after = docker.container_update(state, changed, changes)
    assert after["healthcheck"]["interval"] == "30s", "the state says 30s"
    inspected = docker.client.call("GET", f"/containers/{state['id']}/json")
    assert inspected["Config"]["Healthcheck"]["Interval"] == 15_000_000_000, "the container still checks every 15s"
