"""The resource graph the program declares, per stack, under Pulumi's mocks."""

from __future__ import annotations

import json

import pytest
from passlib.hash import bcrypt

from components.systemd_unit import UNIT_PATH
from recorded import Deployment, clear_parts, is_secret_value, reveal, run_program, stack_config

HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJwscbcMu7W4BjS5KmH4fejUOe377CH6Enp1x4jXO8c3"
PASSWORDS = {"ci": "ci-password-7f3a9c1e5b", "alice": "alice-password-2d8e4f6a"}
REMOTE_OVERRIDES = {"sshHost": "pypi.internal.example", "sshHostKey": HOST_KEY, "users": PASSWORDS}

IMAGE = "docker:index/remoteImage:RemoteImage"
VOLUME = "docker:index/volume:Volume"
CONTAINER = "docker:index/container:Container"
REMOTE_COMMAND = "command:remote:Command"
LOCAL_COMMAND = "command:local:Command"
DOCKER_PROVIDER = "pulumi:providers:docker"


def deploy(stack: str, **overrides) -> Deployment:
    config = stack_config(stack)
    if stack != "dev":
        config.update(REMOTE_OVERRIDES)
    config.update(overrides)
    return run_program(stack, config, secret_keys=("users",) if "users" in config else ())


@pytest.fixture(scope="module")
def dev() -> Deployment:
    return deploy("dev")


@pytest.fixture(scope="module")
def staging() -> Deployment:
    return deploy("staging")


@pytest.fixture(scope="module")
def production() -> Deployment:
    return deploy("production")


def ssh_opts(d: Deployment) -> list[str]:
    # Provider configuration reaches the engine JSON-encoded.
    raw = d.one(DOCKER_PROVIDER).plain["sshOpts"]
    return json.loads(raw) if isinstance(raw, str) else raw


def depends_on(d: Deployment, dependent: str, dependency: str) -> bool:
    return d.named(dependency).urn in d.named(dependent).dependencies


def test_dev_runs_on_the_local_engine_without_ssh_or_systemd(dev):
    provider = dev.one(DOCKER_PROVIDER)
    assert "host" not in provider.plain or not provider.plain["host"], provider.plain
    assert not dev.of_type(REMOTE_COMMAND), "dev needs no SSH"
    assert [c.name for c in dev.of_type(LOCAL_COMMAND)] == ["pypi-health"]
    container = dev.one(CONTAINER).plain
    assert container["restart"] == "unless-stopped", "without systemd, Docker supervises"
    assert container["ports"] == [{"internal": 8080, "external": 8080, "ip": "127.0.0.1", "protocol": "tcp"}]
    assert container["command"][container["command"].index("--authenticate") + 1] == "."
    assert not dev.one(VOLUME).protect and not dev.one(VOLUME).retain_on_delete


@pytest.mark.parametrize("stack", ["dev", "staging", "production"])
def test_every_docker_resource_uses_the_stack_provider(stack):
    d = deploy(stack)
    provider = d.one(DOCKER_PROVIDER)
    for r in d.registrations:
        if r.type.startswith("docker:"):
            assert r.provider.startswith(provider.urn + "::"), f"{r.urn} uses {r.provider}"


def test_remote_docker_provider_pins_the_host_key(staging):
    provider = staging.one(DOCKER_PROVIDER).plain
    assert provider["host"] == "ssh://deploy@pypi.internal.example:22"
    opts = ssh_opts(staging)
    pairs = dict(opts[i + 1].split("=", 1) for i in range(0, len(opts), 2) if opts[i] == "-o")
    assert pairs["StrictHostKeyChecking"] == "yes"
    assert pairs["UserKnownHostsFile"] == "/dev/null" and pairs["GlobalKnownHostsFile"] == "/dev/null"
    assert pairs["KnownHostsCommand"] == f"/bin/echo pypi.internal.example {HOST_KEY}"
    assert "StrictHostKeyChecking=no" not in " ".join(opts)


def test_nonstandard_port_uses_bracketed_known_hosts_name():
    d = deploy("staging", sshPort="2222")
    opts = ssh_opts(d)
    assert f"KnownHostsCommand=/bin/echo [pypi.internal.example]:2222 {HOST_KEY}" in opts


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_every_remote_command_verifies_the_host_key(stack):
    d = deploy(stack)
    commands = d.of_type(REMOTE_COMMAND)
    assert {c.name for c in commands} == {"docker-bootstrap", "pypi-htpasswd", "pypi-unit", "pypi-health"}
    for c in commands:
        connection = c.plain["connection"]
        assert connection["hostKey"] == HOST_KEY, c.urn
        assert connection["host"] == "pypi.internal.example" and connection["user"] == "deploy", c.urn


def test_skipping_the_host_key_check_is_explicit_outside_production():
    d = deploy("staging", sshHostKey="", insecureSkipHostKeyCheck="true")
    assert "hostKey" not in d.named("docker-bootstrap").plain["connection"]
    assert "StrictHostKeyChecking=no" in ssh_opts(d)


def test_nothing_talks_to_docker_before_the_bootstrap(staging):
    bootstrap = staging.named("docker-bootstrap")
    assert bootstrap.urn in staging.one(DOCKER_PROVIDER).dependencies
    for name in ("pypi-image", "pypi-packages", "pypi-auth"):
        assert depends_on(staging, name, "docker-bootstrap"), name
    assert staging.registrations.index(bootstrap) < staging.registrations.index(staging.one(DOCKER_PROVIDER))


def test_order_credentials_container_unit_health(staging):
    assert depends_on(staging, "pypi-htpasswd", "pypi-image")
    assert depends_on(staging, "pypi-htpasswd", "pypi-auth")
    assert depends_on(staging, "pypi-container", "pypi-htpasswd")
    assert depends_on(staging, "pypi-unit", "pypi-container"), "the unit is installed after the container exists"
    assert depends_on(staging, "pypi-health", "pypi-unit")
    assert depends_on(staging, "pypi-health", "pypi-container")


def test_container_inputs(staging):
    container = staging.one(CONTAINER).plain
    assert container["name"] == "pypiserver"
    assert container["image"] == staging.one(IMAGE).plain.get("imageId") or container["image"].startswith("sha256:")
    assert container["restart"] == "no", "systemd supervises: Docker must not restart it too"
    assert container["memory"] == 256 and container["memorySwap"] == 256
    assert container["securityOpts"] == ["no-new-privileges:true"]
    assert container["logDriver"] == "json-file" and container["logOpts"] == {"max-size": "10m", "max-file": "5"}
    assert container["ports"] == [{"internal": 8080, "external": 8080, "ip": "0.0.0.0", "protocol": "tcp"}]
    mounts = {m["target"]: m for m in container["mounts"]}
    assert mounts["/data/packages"]["source"] == "pypiserver-packages" and mounts["/data/packages"]["type"] == "volume"
    assert mounts["/data/auth"]["source"] == "pypiserver-auth" and mounts["/data/auth"]["readOnly"] is True
    assert "/data" not in mounts, "mounting over /data would hide the image's gunicorn config"
    assert container["command"] == [
        "run", "--port", "8080", "--server", "gunicorn",
        "--passwords", "/data/auth/.htpasswd", "--authenticate", "update,download,list",
        "--disable-fallback", "--health-endpoint", "/health", "/data/packages",
    ]  # fmt: skip
    health = container["healthcheck"]
    assert health["tests"][0] == "CMD" and "/health" in health["tests"][-1]
    assert container["removeVolumes"] is False


def test_image_is_pinned_and_kept(staging):
    image = staging.one(IMAGE).plain
    assert image["name"] == "pypiserver/pypiserver:v2.4.1" and image["keepLocally"] is True
    digest = "sha256:" + "cd" * 32
    assert deploy("staging", imageDigest=digest).one(IMAGE).plain["name"] == f"pypiserver/pypiserver:v2.4.1@{digest}"


def test_production_package_volume_is_protected_and_retained(production):
    volume = production.named("pypi-packages")
    assert volume.protect and volume.retain_on_delete
    assert volume.plain["name"] == "pypiserver-packages"
    assert not production.named("pypi-auth").protect, "credentials are re-derived from config"


def test_unit_is_installed_and_removed_on_destroy(staging):
    unit = staging.named("pypi-unit").plain
    assert UNIT_PATH in unit["create"] and "systemctl enable" in unit["create"]
    assert "ExecStart=/usr/bin/docker start --attach pypiserver" in unit["create"]
    assert "systemctl disable --now pypiserver.service" in unit["delete"] and f"rm -f {UNIT_PATH}" in unit["delete"]
    assert "triggers" not in unit, (
        "a trigger would replace the step, and replacement deletes the unit after creating it"
    )


def test_health_gate_reruns_for_a_new_container(staging):
    health = staging.named("pypi-health").plain
    assert health["triggers"] == [staging.one(CONTAINER).id]
    assert "http://127.0.0.1:8080/health" in health["create"] and "docker logs --tail 30 pypiserver" in health["create"]


def test_htpasswd_reaches_the_host_as_secret_stdin_only(staging):
    step = staging.named("pypi-htpasswd")
    assert is_secret_value(step.inputs["stdin"]), "the htpasswd file must be a secret input"
    assert step.plain["logging"] == "none"
    assert {"stdin", "stdout", "stderr"} <= set(step.additional_secret_outputs)
    lines = dict(line.split(":", 1) for line in reveal(step.inputs["stdin"]).splitlines())
    assert set(lines) == set(PASSWORDS)
    for user, password in PASSWORDS.items():
        assert lines[user].startswith("$2b$10$")
        assert bcrypt.verify(password, lines[user]), user
        assert not bcrypt.verify(password + "x", lines[user]), user


@pytest.mark.parametrize("stack", ["dev", "staging", "production"])
def test_idempotent_same_config_same_inputs(stack):
    def graph(d: Deployment) -> list:
        # Registration order follows when inputs resolve, so compare the graph, not the order.
        return sorted(
            (r.urn, json.dumps(r.inputs, sort_keys=True), sorted(r.dependencies), r.protect) for r in d.registrations
        )

    first, second = deploy(stack), deploy(stack)
    assert graph(first) == graph(second)
    assert first.exports == second.exports


def test_no_secret_in_clear_anywhere():
    private_key = (
        "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA-not-real\n-----END OPENSSH PRIVATE KEY-----\n"
    )
    config = {**stack_config("production"), **REMOTE_OVERRIDES, "sshPrivateKey": private_key}
    d = run_program("production", config, secret_keys=("users", "sshPrivateKey"))
    htpasswd = reveal(d.named("pypi-htpasswd").inputs["stdin"])
    hashes = [line.split(":", 1)[1] for line in htpasswd.splitlines()]
    needles = [*PASSWORDS.values(), "b3BlbnNzaC1rZXktdjEAAAAA-not-real", *hashes]
    for r in d.registrations:
        shown = json.dumps(clear_parts(r.inputs))
        for needle in needles:
            assert needle not in shown, f"{r.urn} holds a secret in clear"
    for name, value in d.exports.items():
        for needle in needles:
            assert needle not in json.dumps(value), f"export {name} holds a secret"
    # The key reaches pulumi-command only as a secret.
    connection = d.named("docker-bootstrap").inputs["connection"]
    assert is_secret_value(connection) or is_secret_value(connection.get("privateKey"))


def test_outputs_for_users_hold_no_password(staging):
    exports = staging.exports
    assert exports["indexUrl"] == "http://pypi.internal.example:8080/simple/"
    assert exports["uploadUrl"] == "http://pypi.internal.example:8080/"
    assert "index-url = http://pypi.internal.example:8080/simple/" in exports["pipConf"]
    assert "repository = http://pypi.internal.example:8080/" in exports["pypirc"]
    assert 'url = "http://pypi.internal.example:8080/simple/"' in exports["uvIndex"]
    assert not staging.secret_exports, "none of the outputs derives from a secret"


@pytest.mark.parametrize(
    ("overrides", "key"),
    [({"imageTag": "latest"}, "imageTag"), ({"sshHostKey": ""}, "sshHostKey"), ({"users": {"a:b": "x" * 20}}, "users")],
)
def test_bad_config_registers_nothing(overrides, key):
    from components.settings import ConfigError

    with pytest.raises(ConfigError, match=f"pypi-index:{key}"):
        deploy("production", **overrides)
