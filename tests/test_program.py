"""The resource graph the program declares, per stack, under Pulumi's mocks."""

from __future__ import annotations

import json

import pytest
from passlib.hash import bcrypt
from pulumi.output import Unknown

from components.in_container.project_access import render as render_access
from components.pypiserver import programs as program_files
from components.pypiserver.salt_key import SALT_KEY
from components.supervision.systemd_unit import UNIT_DIR
from tests.support.deployments import BACKUP_PASSWORD, PASSWORDS, REMOTE_OVERRIDES, config_for, deploy
from tests.support.recorded import (
    CONTAINER,
    DOCKER_PROVIDER,
    LOCAL_COMMAND,
    REMOTE_COMMAND,
    Deployment,
    clear_parts,
    fake_salt_key,
    is_secret_value,
    reveal,
    run_program,
    stack_config,
)
from tests.support.stack_values import HOST_KEY

NO_RULES = render_access({}, "uploaders")  # a stack without `owners`: access.json as delivered


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
    assert sorted(c.name for c in dev.of_type(LOCAL_COMMAND)) == [
        "pypi-ca",
        "pypi-caddyfile",
        "pypi-canary",
        "pypi-gunicorn-config",
        "pypi-health",
        "pypi-yanked",
    ]
    for c in dev.of_type(CONTAINER):
        assert c.plain["restart"] == "unless-stopped", f"{c.name}: without systemd, Docker supervises"
    front = dev.named("pypi-front").plain
    assert front["ports"] == [{"internal": 443, "external": 8443, "ip": "127.0.0.1", "protocol": "tcp"}]
    backend = dev.named("pypi-container").plain
    assert "ports" not in backend, "pypiserver is never published: only the front server is"
    assert backend["command"][backend["command"].index("--authenticate") + 1] == "."
    assert not dev.named("pypi-packages").protect and not dev.named("pypi-packages").retain_on_delete


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
    assert {c.name for c in commands} == {
        "host-guard", "docker-bootstrap", "pypi-htpasswd", "pypi-caddyfile", "pypi-unit", "pypi-health", "pypi-ca",
        "pypi-backup-secrets", "pypi-backup-repository", "pypi-backup-units", "pypi-canary", "pypi-yanked",
        "pypi-gunicorn-config",
    }  # fmt: skip
    for c in commands:
        connection = c.plain["connection"]
        assert connection["hostKey"] == HOST_KEY, c.urn
        assert connection["host"] == "pypi.internal.example" and connection["user"] == "deploy", c.urn


def test_skipping_the_host_key_check_is_explicit_outside_production():
    d = deploy("staging", sshHostKey="", insecureSkipHostKeyCheck="true")
    assert "hostKey" not in d.named("docker-bootstrap").plain["connection"]
    assert "StrictHostKeyChecking=no" in ssh_opts(d)


def test_the_host_guard_comes_first_and_checks_every_new_connection(staging):
    guard = staging.named("host-guard").plain
    assert depends_on(staging, "docker-bootstrap", "host-guard"), "nothing runs on a host the guard refused"
    assert "pypi-index/staging" in guard["create"] and "pypi-index/staging" in guard["update"]
    assert "/var/lib/pypi-index/stack" in guard["delete"]
    assert "triggers" not in guard, "a trigger would replace it: create on the new host, and no check"


def test_nothing_talks_to_docker_before_the_bootstrap(staging):
    bootstrap = staging.named("docker-bootstrap")
    assert bootstrap.urn in staging.one(DOCKER_PROVIDER).dependencies
    for name in ("pypi-image", "pypi-front-image", "pypi-packages", "pypi-auth", "pypi-pages", "pypi-front-config",
                 "pypi-front-data", "pypi-internal", "pypi-public"):  # fmt: skip
        assert depends_on(staging, name, "docker-bootstrap"), name
    assert staging.registrations.index(bootstrap) < staging.registrations.index(staging.one(DOCKER_PROVIDER))


def test_order_credentials_containers_unit_health(staging):
    assert depends_on(staging, "pypi-htpasswd", "pypi-image")
    assert depends_on(staging, "pypi-htpasswd", "pypi-auth")
    assert depends_on(staging, "pypi-container", "pypi-htpasswd")
    assert depends_on(staging, "pypi-caddyfile", "pypi-front-config")
    assert depends_on(staging, "pypi-front", "pypi-caddyfile"), "the front server starts with its configuration"
    for container in ("pypi-container", "pypi-front", "pypi-indexer"):
        assert depends_on(staging, "pypi-unit", container), "the units are installed after the containers exist"
        assert depends_on(staging, "pypi-health", container)
    assert depends_on(staging, "pypi-health", "pypi-unit")
    assert depends_on(staging, "pypi-ca", "pypi-health")


def test_backend_container_inputs(staging):
    container = staging.named("pypi-container").plain
    assert container["name"] == "pypiserver"
    assert container["image"] == staging.named("pypi-image").plain.get("imageId") or container["image"].startswith(
        "sha256:"
    )
    assert container["restart"] == "no", "systemd supervises: Docker must not restart it too"
    assert container["memory"] == 256 and container["memorySwap"] == -1, "-1 reads back the same on every kernel"
    assert container["securityOpts"] == ["no-new-privileges:true"]
    assert container["logDriver"] == "local" and "logOpts" not in container, "log_opts would read back merged"
    assert "ports" not in container, "pypiserver is reachable through the front server only"
    assert container["networksAdvanced"] == [{"name": "pypiserver-internal", "aliases": ["pypiserver"]}]
    assert staging.named("pypi-internal").plain == {"name": "pypiserver-internal", "internal": True}
    mounts = {m["target"]: m for m in container["mounts"]}
    assert mounts["/data/packages"]["source"] == "pypiserver-packages" and mounts["/data/packages"]["type"] == "volume"
    assert "volumeOptions" not in mounts["/data/packages"], "pypiserver's entrypoint owns the volume (uid 9898)"
    assert mounts["/data/auth"]["source"] == "pypiserver-auth" and mounts["/data/auth"]["readOnly"] is True
    assert "/data" not in mounts, "mounting over /data would hide the image's gunicorn config"
    assert container["command"] == [
        "run", "--port", "8080", "--server", "gunicorn",
        "--passwords", "/data/auth/.htpasswd", "--authenticate", "update,download,list",
        "--disable-fallback", "--health-endpoint", "/health", "/data/packages",
    ]  # fmt: skip
    health = container["healthcheck"]
    assert health["tests"][0] == "CMD" and "/health" in health["tests"][-1]
    assert container["removeVolumes"] is True, "anonymous volumes only: the packages volume is named"


def test_front_container_inputs(staging):
    front = staging.named("pypi-front").plain
    assert front["name"] == "pypiserver-front" and front["restart"] == "no"
    assert front["ports"] == [
        {"internal": 443, "external": 443, "ip": "0.0.0.0", "protocol": "tcp"},
        {"internal": 80, "external": 80, "ip": "0.0.0.0", "protocol": "tcp"},
    ]
    assert [n["name"] for n in front["networksAdvanced"]] == ["pypiserver-public", "pypiserver-internal"]
    assert front["capabilities"] == {"drops": ["ALL"], "adds": ["CAP_NET_BIND_SERVICE"]}, "as Docker stores them"
    assert front["securityOpts"] == ["no-new-privileges:true"] and front["memory"] == 128
    mounts = {m["target"]: m for m in front["mounts"]}
    assert mounts["/srv/packages"]["source"] == "pypiserver-packages" and mounts["/srv/packages"]["readOnly"] is True
    assert mounts["/etc/caddy"]["readOnly"] is True and mounts["/srv/index"]["readOnly"] is True
    assert mounts["/data"]["source"] == "pypiserver-front-data" and not mounts["/data"].get("readOnly")
    assert front["image"].startswith("sha256:")
    assert staging.named("pypi-front-image").plain == {"name": "caddy:2.11.7", "keepLocally": True}


def test_indexer_container_inputs(staging):
    indexer = staging.named("pypi-indexer").plain
    assert indexer["networkMode"] == "none", "the indexer needs no network at all"
    assert indexer["capabilities"] == {"drops": ["ALL"]} and indexer["user"] == "0:0"
    # The program is a file the deployment delivered, named by its content; never source in an argument.
    assert indexer["entrypoints"] == [
        "python3",
        f"/data/hooks/{program_files.digest(NO_RULES)}/static_index.py",
        "/srv/packages",
        "/srv/index",
        str(1024 * 1_000_000),
    ], "the largest upload, in bytes: uploads pause while the disk could not take one"
    mounts = {m["target"]: m for m in indexer["mounts"]}
    assert mounts["/srv/packages"]["readOnly"] is True and mounts["/srv/packages"]["source"] == "pypiserver-packages"
    assert mounts["/data/hooks"] == {
        "type": "volume",
        "source": "pypiserver-hooks",
        "target": "/data/hooks",
        "readOnly": True,
    }
    assert depends_on(staging, "pypi-indexer", "pypi-gunicorn-config"), "the program is there before it runs"


def test_image_is_pinned_and_kept(staging):
    image = staging.named("pypi-image").plain
    assert image["name"] == "pypiserver/pypiserver:v2.4.1" and image["keepLocally"] is True
    digest = "sha256:" + "cd" * 32
    assert (
        deploy("staging", imageDigest=digest).named("pypi-image").plain["name"]
        == f"pypiserver/pypiserver:v2.4.1@{digest}"
    )


def test_production_package_volume_is_protected_and_retained(production):
    for name in ("pypi-packages", "pypi-front-data"):
        volume = production.named(name)
        assert volume.protect and volume.retain_on_delete, name
    assert production.named("pypi-packages").plain["name"] == "pypiserver-packages"
    assert not production.named("pypi-auth").protect, "credentials are re-derived from config"


def test_units_are_installed_and_removed_on_destroy(staging):
    unit = staging.named("pypi-unit").plain
    for container in ("pypiserver", "pypiserver-front", "pypiserver-indexer"):
        assert f"{UNIT_DIR}/{container}.service" in unit["create"]
        assert f"ExecStart=/usr/bin/docker start --attach {container}\n" in unit["create"]
        assert f"systemctl disable --now {container}.service" in unit["delete"]
        assert f"rm -f {UNIT_DIR}/{container}.service" in unit["delete"]
    assert "triggers" not in unit, (
        "a trigger would replace the step, and replacement deletes the unit after creating it"
    )


def test_health_gate_goes_through_tls_and_reruns_for_new_containers(staging):
    health = staging.named("pypi-health").plain
    ids = [staging.named(n).id for n in ("pypi-container", "pypi-front", "pypi-indexer")]
    assert health["triggers"] == ids
    assert "--resolve pypi.internal.example:443:127.0.0.1 https://pypi.internal.example:443/health" in health["create"]
    assert "docker logs --tail 20 pypiserver-front" in health["create"]


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


def test_front_configuration_is_secret_and_holds_the_same_hashes(staging):
    step = staging.named("pypi-caddyfile")
    assert is_secret_value(step.inputs["stdin"]) and step.plain["logging"] == "none"
    caddyfile = reveal(step.inputs["stdin"])
    htpasswd = dict(line.split(":", 1) for line in reveal(staging.named("pypi-htpasswd").inputs["stdin"]).splitlines())
    for user, digest in htpasswd.items():
        assert f"{user} {digest}" in caddyfile
    assert "caddy reload --config /etc/caddy/Caddyfile" in step.plain["create"]


def htpasswd_lines(d: Deployment) -> dict[str, str]:
    return dict(line.split(":", 1) for line in reveal(d.named("pypi-htpasswd").inputs["stdin"]).splitlines())


def test_the_salt_key_is_made_once_where_pulumi_runs_and_never_shown(staging, dev):
    key = staging.one(LOCAL_COMMAND, SALT_KEY)
    assert key.plain["create"] == "sh -c 'head -c 32 /dev/urandom | base64'" and key.plain["logging"] == "none"
    assert {"stdout", "stderr"} <= set(key.additional_secret_outputs), "the key is a secret in the state"
    assert not {"update", "delete", "triggers", "stdin"} & set(key.plain), "nothing may make it again or show it"
    assert "::pulumi:pulumi:Stack::" in key.parent and not key.dependencies, "the stack's own, needing no host"
    # The key itself never leaves the program: only hashes computed from it do, as secrets.
    derived = set()
    for r in staging.registrations:
        assert fake_salt_key("staging") not in json.dumps(r.plain), f"{r.urn} holds the salt key"
        for prop, urns in r.property_dependencies.items():
            if key.urn in urns:
                assert is_secret_value(r.inputs[prop]), f"{r.urn} {prop} is computed from the key, in clear"
                derived.add((r.name, prop))
    assert derived == {("pypi-htpasswd", "stdin"), ("pypi-caddyfile", "stdin")}, derived
    for name, value in staging.exports.items():
        assert fake_salt_key("staging") not in json.dumps(value), f"export {name} holds the salt key"
    assert SALT_KEY not in {c.name for c in dev.of_type(LOCAL_COMMAND)}, "a stack without users has nothing to salt"


def test_a_users_salt_comes_from_the_key_and_not_from_the_password(staging):
    before = htpasswd_lines(staging)
    rotated = htpasswd_lines(deploy("staging", users={**PASSWORDS, "ci": "another-ci-password-81c4"}))
    assert rotated["ci"][:29] == before["ci"][:29], "same user and key, another password: the same salt"
    assert rotated["ci"] != before["ci"] and bcrypt.verify("another-ci-password-81c4", rotated["ci"])
    assert rotated["alice"] == before["alice"]
    rekeyed = htpasswd_lines(
        run_program("staging", config_for("staging"), salt_key="another-" + fake_salt_key("staging"))
    )
    for user, password in PASSWORDS.items():
        assert rekeyed[user][:29] != before[user][:29], f"{user}: a new key is a new salt"
        assert bcrypt.verify(password, rekeyed[user]), user


def test_a_preview_declares_the_salt_key_once_and_what_the_up_declares():
    """At the first preview the key is unknown (nothing runs at preview), so are the hashes: the
    resources are declared all the same, none of them inside an apply."""
    preview, up = run_program("staging", config_for("staging"), preview=True), deploy("staging")
    assert [r.name for r in preview.of_type(LOCAL_COMMAND)] == [SALT_KEY]
    assert sorted(r.urn for r in preview.registrations) == sorted(r.urn for r in up.registrations)
    for step in ("pypi-htpasswd", "pypi-caddyfile"):
        stdin = preview.named(step).inputs["stdin"]
        assert is_secret_value(stdin) and isinstance(reveal(stdin), Unknown), f"{step}: computed from the key"


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
    d = run_program("production", config)
    htpasswd = reveal(d.named("pypi-htpasswd").inputs["stdin"])
    assert all(
        line.split(":", 1)[1] in reveal(d.named("pypi-caddyfile").inputs["stdin"]) for line in htpasswd.splitlines()
    )
    hashes = [line.split(":", 1)[1] for line in htpasswd.splitlines()]
    needles = [
        *PASSWORDS.values(), "b3BlbnNzaC1rZXktdjEAAAAA-not-real", *hashes, BACKUP_PASSWORD, "backup-key",
        fake_salt_key("production"),
    ]  # fmt: skip
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
    assert exports["indexUrl"] == "https://pypi.internal.example/simple/"
    assert exports["uploadUrl"] == "https://pypi.internal.example/"
    assert "index-url = https://pypi.internal.example/simple/" in exports["pipConf"]
    assert "trusted-host" not in exports["pipConf"], "HTTPS everywhere: nothing to trust blindly"
    assert "cert = /etc/ssl/certs/ca-certificates.crt" in exports["pipConf"], "the system bundle, not the CA alone"
    assert "repository = https://pypi.internal.example/" in exports["pypirc"]
    assert 'url = "https://pypi.internal.example/simple/"' in exports["uvIndex"]
    assert 'url = "https://pypi.internal.example/simple/"\npriority = "primary"' in exports["poetrySource"]
    assert "caCertificate" in exports
    assert not staging.secret_exports, "none of the outputs derives from a secret"


@pytest.mark.parametrize(
    ("overrides", "key"),
    [({"imageTag": "latest"}, "imageTag"), ({"sshHostKey": ""}, "sshHostKey"), ({"users": {"a:b": "x" * 20}}, "users")],
)
def test_bad_config_registers_nothing(overrides, key):
    from components.settings import ConfigError

    with pytest.raises(ConfigError, match=f"pypi-index:{key}"):
        deploy("production", **overrides)


def test_local_steps_talk_to_the_providers_engine():
    d = deploy("dev", dockerHost="unix:///run/user/1000/docker.sock")
    assert d.one(DOCKER_PROVIDER).plain["host"] == "unix:///run/user/1000/docker.sock"
    for step in d.of_type(LOCAL_COMMAND):
        assert step.plain["environment"] == {"DOCKER_HOST": "unix:///run/user/1000/docker.sock"}, step.name
    assert all("environment" not in s.plain for s in deploy("dev").of_type(LOCAL_COMMAND))


SUPPLIED = {
    "tls": "supplied",
    "tlsCertificate": "-----BEGIN CERTIFICATE-----\nMIIBcert\n-----END CERTIFICATE-----",
    "tlsKey": "-----BEGIN PRIVATE KEY-----\nMIIBkey\n-----END PRIVATE KEY-----",
}


def test_a_rotated_certificate_reloads_the_front_server_once_both_files_are_written():
    d = run_program("staging", {**stack_config("staging"), **REMOTE_OVERRIDES, **SUPPLIED})
    for step in ("pypi-tls-cert", "pypi-tls-key"):
        assert depends_on(d, "pypi-caddyfile", step), "the reload comes after the new certificate and key"
        assert "caddy reload" not in d.named(step).plain["create"]
    assert is_secret_value(d.named("pypi-tls-key").inputs["stdin"])
    assert "MIIBkey" not in json.dumps(clear_parts(d.named("pypi-tls-key").inputs))
    rotated = {**SUPPLIED, "tlsCertificate": SUPPLIED["tlsCertificate"].replace("MIIBcert", "MIIBnew")}
    again = run_program("staging", {**stack_config("staging"), **REMOTE_OVERRIDES, **rotated})
    first, second = (reveal(x.named("pypi-caddyfile").inputs["stdin"]) for x in (d, again))
    assert first != second, "a new certificate changes the Caddyfile, so its step runs again and reloads"


@pytest.mark.parametrize("stack", ["dev", "staging", "production"])
def test_no_mount_has_volume_options(stack):
    """The provider refuses any volume_options block below Docker API 1.45 (Debian 12, Ubuntu's
    engines), subpath or not; mount points absent from the images keep the volume's owner instead."""
    for container in deploy(stack).of_type(CONTAINER):
        for mount in container.plain.get("mounts", []):
            assert "volumeOptions" not in mount, f"{container.name}: {mount}"
            if mount["source"] == "pypiserver-packages" and container.name != "pypi-container":
                assert mount["target"] == "/srv/packages" and mount["readOnly"] is True, container.name


@pytest.mark.parametrize("stack", ["dev", "production"])
def test_every_container_reads_back_as_declared(stack):
    """Inputs the provider would store differently after create make every `up` change something."""
    for container in deploy(stack).of_type(CONTAINER):
        inputs = container.plain
        assert "logOpts" not in inputs and inputs["logDriver"] == "local", container.name
        assert inputs["memorySwap"] == -1, container.name
        for cap in inputs.get("capabilities", {}).get("adds", []):
            assert cap.startswith("CAP_"), f"{container.name}: {cap} reads back as CAP_{cap}"
        health = inputs.get("healthcheck")
        if health:
            for key in ("interval", "timeout", "startPeriod"):
                assert health[key].endswith("s") and health[key][:-1].isdigit() and int(health[key][:-1]) < 60, (
                    f"{container.name}: {key} {health[key]} must be spelled as Go's Duration.String() prints it"
                )


def test_a_new_healthcheck_replaces_the_container_deleting_first(staging):
    for container in staging.of_type(CONTAINER):
        assert container.replace_on_changes == ["healthcheck"], container.name
        assert container.delete_before_replace is True, f"{container.name}: two containers cannot share a name"


def test_backup_secrets_reach_the_host_as_secret_stdin_only(production):
    step = production.named("pypi-backup-secrets")
    assert is_secret_value(step.inputs["stdin"]) and step.plain["logging"] == "none"
    bundle = dict(line.split(" ", 1) for line in reveal(step.inputs["stdin"]).splitlines())
    assert set(bundle) == {"password", "repository", "ssh_key", "known_hosts"}
    import base64

    assert base64.b64decode(bundle["password"]).decode() == BACKUP_PASSWORD
    assert base64.b64decode(bundle["known_hosts"]).decode() == f"backup.internal.example {HOST_KEY}\n"
    repository = production.named("pypi-backup-repository")
    assert is_secret_value(repository.inputs["stdin"]), "a new repository re-runs the step, as a secret"
    assert depends_on(production, "pypi-backup-repository", "pypi-backup-secrets")
    units = production.named("pypi-backup-units").plain
    assert (
        "OnCalendar=hourly" in units["create"] and "systemctl enable --now pypiserver-backup.timer" in units["create"]
    )
    assert "--keep-hourly=24 --keep-daily=14 --keep-weekly=8 --keep-monthly=12" in units["create"]
    assert "systemctl disable --now pypiserver-backup.timer" in units["delete"]
    for needle in (BACKUP_PASSWORD, "backup-key"):
        assert needle not in json.dumps(clear_parts(units)) and needle not in json.dumps(clear_parts(repository.inputs))


def test_a_restore_fills_the_store_before_any_container_starts():
    d = deploy("production", restoreFrom="latest")
    restore = d.named("pypi-restore").plain
    assert "restic -o" in restore["create"] and "restore latest --host pypi-index" in restore["create"]
    assert "refusing to restore into pypiserver-packages" in restore["create"]
    for dependency in ("pypi-packages", "pypi-front-data", "pypi-backup-repository"):
        assert depends_on(d, "pypi-restore", dependency), dependency
    for container in ("pypi-container", "pypi-front", "pypi-indexer"):
        assert depends_on(d, container, "pypi-restore"), f"{container} would start on an empty store"
    assert "pypi-restore" not in {r.name for r in deploy("production").registrations}


def test_a_new_image_or_new_arguments_are_tried_beside_the_running_index_first(staging):
    canary = staging.named("pypi-canary").plain
    container = staging.named("pypi-container").plain
    assert depends_on(staging, "pypi-container", "pypi-canary"), "the running container is touched only after"
    assert canary["triggers"] == [container["image"], json.dumps(container["command"]), json.dumps(container["envs"])]
    script = canary["create"]
    assert "--network none" in script and "-p " not in script and "--publish" not in script
    # Started as root like the service (the official entrypoint drops to its user itself), with the
    # service's security options; the package store is never mounted, a tmpfs takes its place.
    assert "--user" not in script and "--security-opt no-new-privileges:true" in script
    assert "pypiserver-packages" not in script, "the canary must not see the store"
    assert "--tmpfs /data/packages:rw,nosuid,nodev,noexec,size=16m" in script
    assert "source=pypiserver-hooks,target=/data/hooks,readonly" in script
    assert "--env " in script and f"GUNICORN_CMD_ARGS=--config {program_files.gunicorn_config(NO_RULES)}" in script, (
        "the same env"
    )
    assert "source=pypiserver-auth,target=/data/auth,readonly" in script
    assert "pypiserver/pypiserver:v2.4.1 run --port 8080" in script
    assert "docker logs --tail 40 pypiserver-canary" in script
    assert "--name pypiserver-canary " in script
    other = deploy("staging", containerName="pypi-two").named("pypi-canary").plain["create"]
    assert "--name pypi-two-canary " in other, "two indexes on one engine never share (and remove) a canary"
    upgraded = deploy("staging", imageTag="v2.4.2").named("pypi-canary").plain
    assert upgraded["triggers"] != canary["triggers"], "a new image runs the canary again"


def test_everything_that_runs_the_new_image_waits_for_the_canary(staging):
    for container in ("pypi-container", "pypi-indexer"):
        assert depends_on(staging, container, "pypi-canary"), f"{container} would run a release that cannot start"


def test_readers_may_list_and_download_and_only_uploaders_may_upload():
    d = deploy("staging", uploaders=["ci"])
    htpasswd = reveal(d.named("pypi-htpasswd").inputs["stdin"])
    assert [line.split(":")[0] for line in htpasswd.splitlines()] == ["ci"], "pypiserver checks uploads itself"
    caddyfile = reveal(d.named("pypi-caddyfile").inputs["stdin"])
    update = caddyfile.split("basic_auth @update {", 1)[1].split("}", 1)[0]
    read = caddyfile.split("basic_auth @list {", 1)[1].split("}", 1)[0]
    assert "ci $2b$" in update and "alice" not in update
    assert "ci $2b$" in read and "alice $2b$" in read


def test_the_metrics_user_may_only_scrape_and_only_it_may():
    users = {**PASSWORDS, "prom": "prom-password-5c3e1a9b7d"}
    d = deploy("staging", users=users, metricsUsers=["prom"])
    caddyfile = reveal(d.named("pypi-caddyfile").inputs["stdin"])
    scrape = [
        caddyfile.split(f"handle @{name} {{", 1)[1].split("\t}\n", 1)[0] for name in ("caddy_metrics", "index_metrics")
    ]
    for route in scrape:
        assert "prom $2b$" in route and "ci $2b$" not in route and "alice $2b$" not in route
    rest = caddyfile.split("handle @index_metrics {", 1)[1].split("\n\t}\n", 1)[1]
    assert "prom $2b$" not in rest and "ci $2b$" in rest, "no other route knows the metrics user"
    htpasswd = reveal(d.named("pypi-htpasswd").inputs["stdin"])
    assert "prom" not in htpasswd and "ci:" in htpasswd, "not an uploader, by default"
    assert "\tmetrics\n}" in caddyfile.split("\n\n", 1)[0] + "\n", "Caddy's HTTP metrics on (the global option)"
    job = d.exports["scrapeJob"]
    assert "username: prom" in job and "password_file: /etc/prometheus/pypi-index-metrics.password" in job
    assert "prom-password" not in job and not d.secret_exports
    without = reveal(deploy("staging").named("pypi-caddyfile").inputs["stdin"])
    assert "metrics" not in without, "no metrics users: no route, and no instrumentation on the request path"


def test_yanked_releases_reach_the_pages_volume_as_config_says():
    d = deploy("staging", yanked=["Team_Tool==1.2.0: broken wheel"])
    step = d.named("pypi-yanked")
    assert json.loads(reveal(step.inputs["stdin"])) == {"team-tool": {"1.2.0": "broken wheel"}}
    assert depends_on(d, "pypi-yanked", "pypi-pages"), "written into the volume the indexer renders from"
    assert depends_on(d, "pypi-yanked", "pypi-canary"), "a new image runs nothing else before it proved it starts"
    unyanked = deploy("staging")
    assert json.loads(reveal(unyanked.named("pypi-yanked").inputs["stdin"])) == {}, "un-yanking: the entry goes"


def test_pypiserver_runs_gunicorn_with_the_audit_configuration():
    d = deploy("staging")
    container = d.named("pypi-container").plain
    # The configuration's folder is named by the programs' content: new program text is a new
    # environment, so the canary tries it and the container is replaced (a file rewritten in place
    # would never reach the running gunicorn, which read it once at start).
    assert container["envs"] == [
        f"GUNICORN_CMD_ARGS=--config /data/hooks/{program_files.digest(NO_RULES)}/gunicorn.conf.py"
    ]
    assert {"source": "pypiserver-hooks", "target": "/data/hooks", "readOnly": True}.items() <= next(
        m for m in container["mounts"] if m["target"] == "/data/hooks"
    ).items()
    step = d.named("pypi-gunicorn-config")
    assert reveal(step.inputs["stdin"]) == program_files.archive(NO_RULES)
    assert f"if [ ! -d {program_files.digest(NO_RULES)} ]" in step.inputs["create"]
    assert depends_on(d, "pypi-container", "pypi-gunicorn-config") and depends_on(
        d, "pypi-canary", "pypi-gunicorn-config"
    )
    assert deploy("staging", server="gevent").named("pypi-container").plain.get("envs") in (None, [])
