"""The applier's model of the providers and the engine, rule by rule, without a host.

Each test names the upstream behaviour it pins (see tests/host/applier.py and its provider modules
for the source files and functions). What needs a real engine is in tests/host/test_provider_model.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from host.applier import Applied, Applier, ApplyError, changes_only
from host.command_provider import LOCAL, CommandFailed, CommandRunner, command_diff, trim
from host.docker_provider import (
    CONTAINER,
    UNKNOWN,
    DockerProvider,
    ProviderError,
    diff,
    flatten_ports,
    normalize_capability,
    ports_unchanged,
)
from host.engine_api import ssh_argv
from recorded import Deployment, Registration

HEALTH = {"tests": ["CMD", "true"], "interval": "15s", "timeout": "5s", "startPeriod": "10s", "retries": 3}


def read_back(**changes) -> dict:
    """A container's state as Read stores it for the program's inputs (the defaults Read writes)."""
    state = {
        "name": "c", "image": "sha256:" + "a" * 64, "command": ["run"], "entrypoints": ["/entrypoint.sh"],
        "user": "", "restart": "no", "logDriver": "local", "logOpts": None, "memory": 256, "memorySwap": -1,
        "securityOpts": ["no-new-privileges:true"], "networkMode": "bridge", "mounts": [], "init": False,
        "removeVolumes": True, "mustRun": True, "start": True, "readOnly": False,
        "healthcheck": {**HEALTH, "startInterval": "0s"},
    }  # fmt: skip
    return {**state, **changes}


def inputs(**changes) -> dict:
    base = {
        "name": "c", "image": "sha256:" + "a" * 64, "command": ["run"], "restart": "no", "logDriver": "local",
        "memory": 256.0, "memorySwap": -1.0, "securityOpts": ["no-new-privileges:true"], "removeVolumes": True,
        "healthcheck": HEALTH,
    }  # fmt: skip
    return {k: v for k, v in {**base, **changes}.items() if v is not None}


# --- the Docker provider's diff (terraform-plugin-sdk schemaMap.Diff over resource_docker_container.go) ---


def test_what_the_program_sends_diffs_clean_against_what_read_stores():
    assert not diff(CONTAINER, read_back(), inputs()).changed


def test_log_opts_read_back_with_the_daemons_defaults_replace_the_container():
    merged = {"max-size": "10m", "max-file": "3", "compress": "true"}  # containerLogOptsForState
    changes = diff(
        CONTAINER,
        read_back(logDriver="json-file", logOpts=merged),
        inputs(logDriver="json-file", logOpts={"max-size": "10m"}),
    )
    assert changes.replace == ["logOpts"]
    assert not diff(CONTAINER, read_back(logOpts=None), inputs()).changed, "unset log_opts are stored as nil"


def test_capabilities_are_compared_as_docker_stores_them():
    stored = read_back(capabilities={"adds": ["CAP_NET_BIND_SERVICE"], "drops": ["ALL"]})
    assert diff(CONTAINER, stored, inputs(capabilities={"adds": ["NET_BIND_SERVICE"], "drops": ["ALL"]})).replace == [
        "capabilities"
    ]
    assert not diff(
        CONTAINER, stored, inputs(capabilities={"drops": ["ALL"], "adds": ["CAP_NET_BIND_SERVICE"]})
    ).changed
    assert [normalize_capability(c) for c in ("net_bind_service", "ALL", "CAP_KILL")] == [
        "CAP_NET_BIND_SERVICE", "ALL", "CAP_KILL",
    ]  # fmt: skip


def test_a_swap_limit_the_kernel_cannot_keep_is_an_update_on_every_up():
    changes = diff(CONTAINER, read_back(memorySwap=-1), inputs(memorySwap=256.0))
    assert changes.update == ["memorySwap"] and not changes.replace


def test_an_unset_optional_attribute_compares_as_zero_unless_computed():
    assert diff(CONTAINER, read_back(memorySwap=512), inputs(memorySwap=None)).update == ["memorySwap"]
    assert not diff(CONTAINER, read_back(entrypoints=["/x"]), inputs()).changed, "entrypoint is Computed"


def test_a_healthcheck_change_is_an_update_that_reaches_no_container():
    changes = diff(CONTAINER, read_back(), inputs(healthcheck={**HEALTH, "interval": "30s"}))
    assert changes.update == ["healthcheck"] and not changes.replace


def test_ports_match_by_internal_port_in_any_order():
    a: list[dict[str, object]] = [
        {"internal": 443, "external": 8443, "ip": "0.0.0.0", "protocol": "tcp"},
        {"internal": 80, "external": 80},
    ]
    b = list(reversed(a))
    assert ports_unchanged(a, b)
    assert not ports_unchanged(a, [a[0]]), "a different count is a change"
    assert not ports_unchanged(a, [{**a[0], "ip": "127.0.0.1"}, a[1]])
    # flattenContainerPorts stores one entry per binding: an IPv6 twin would count as a new port.
    inspected = {"443/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8443"}, {"HostIp": "::", "HostPort": "8443"}]}
    assert not ports_unchanged(flatten_ports(inspected), [a[0]])


def test_user_diff_is_suppressed_when_unset_and_unknowns_replace():
    assert not diff(CONTAINER, read_back(user="root"), inputs()).changed
    assert diff(CONTAINER, read_back(), inputs(image=UNKNOWN)).replace == ["image"]


class FakeClient:
    def __init__(self, api_version: str):
        self.api_version = api_version


@pytest.mark.parametrize(("api", "refused"), [("1.41", True), ("1.43", True), ("1.45", False), ("1.51", False)])
def test_any_volume_options_need_api_1_45_subpath_or_not(api, refused):
    provider = DockerProvider(FakeClient(api))  # type: ignore[arg-type]
    mount = {"type": "volume", "source": "v", "target": "/t", "volumeOptions": {"noCopy": True}}
    if refused:
        with pytest.raises(ProviderError, match=r"Setting VolumeOptions\.Subpath requires docker version 1\.45"):
            provider.container_request(inputs(mounts=[mount]))
    else:
        _, body = provider.container_request(inputs(mounts=[mount]))
        assert body["HostConfig"]["Mounts"][0]["VolumeOptions"] == {"NoCopy": True}
    _, plain = provider.container_request(inputs(mounts=[{"type": "volume", "source": "v", "target": "/t"}]))
    assert "VolumeOptions" not in plain["HostConfig"]["Mounts"][0]


def test_create_request_spells_what_the_go_client_sends():
    _, body = DockerProvider(FakeClient("1.41")).container_request(  # type: ignore[arg-type]
        inputs(capabilities={"adds": ["NET_BIND_SERVICE"], "drops": ["ALL"]})
    )
    host = body["HostConfig"]
    assert host["CapAdd"] == ["CAP_NET_BIND_SERVICE"] and host["CapDrop"] == ["ALL"]
    assert host["MemorySwap"] == -1 and host["Memory"] == 256 * 1024 * 1024
    assert host["Init"] is False and host["LogConfig"] == {"Type": "local"} and host["NetworkMode"] == "bridge"
    assert body["Healthcheck"]["Interval"] == 15_000_000_000


def test_the_docker_cli_connection_helper_command_line():
    opts = ["-o", "StrictHostKeyChecking=yes"]
    assert ssh_argv("ssh://deploy@203.0.113.5:2222", opts) == [
        "ssh", "-l", "deploy", "-p", "2222", "-o", "StrictHostKeyChecking=yes", "-o", "ConnectTimeout=30", "-T",
        "--", "203.0.113.5", "docker system dial-stdio",
    ]  # fmt: skip
    assert "ConnectTimeout=30" not in ssh_argv("ssh://h", ["-o", "ConnectTimeout=15"])


# --- pulumi-command -------------------------------------------------------------------------------------


def test_only_triggers_replace_a_command():
    old = {"create": "a", "triggers": ["x"], "connection": {"host": "h1"}, "stdin": "s"}
    assert command_diff(old, {**old, "triggers": ["y"]}, ["triggers[*]"]).replace == ["triggers"]
    changed = command_diff(old, {**old, "connection": {"host": "h2"}, "stdin": "t"}, ["triggers[*]"])
    assert changed.update == ["connection", "stdin"] and not changed.replace


def test_one_trailing_newline_is_trimmed():
    assert trim("pem\n\n") == "pem\n" and trim("pem") == "pem" and trim("") == ""


def test_local_runs_update_or_create_again_with_previous_output_only_after_create(tmp_path):
    runner = CommandRunner(tmp_path / "no-key", tmp_path, {"PATH": "/usr/bin:/bin"})
    script = 'echo "prev=${PULUMI_COMMAND_STDOUT:-none}"; cat'
    created = runner.run(LOCAL, "s", {"create": script, "stdin": "in\n"}, "create", {})
    assert created["stdout"] == "prev=none\nin", created
    updated = runner.run(LOCAL, "s", {"create": script}, "update", created)
    assert updated["stdout"] == "prev=prev=none\nin", "no update command: create runs again, stdin empty"
    quiet = runner.run(LOCAL, "s", {"create": script, "addPreviousOutputInEnv": False}, "update", created)
    assert quiet["stdout"] == "prev=none"
    with pytest.raises(CommandFailed, match=r"s: exit status 3: running 'echo out; exit 3':\nout"):
        runner.run(LOCAL, "s", {"create": "echo out; exit 3"}, "create", {})


# --- the engine --------------------------------------------------------------------------------------------


def command(name: str, log: Path, *, deps: tuple[str, ...] = (), protect: bool = False, retain: bool = False,
            triggers: tuple[str, ...] = ()) -> Registration:  # fmt: skip
    urn = f"urn:pulumi:test::p::command:local:Command::{name}"
    plain = {
        "create": f"echo create {name} >> {log}",
        "delete": f"echo delete {name} >> {log}",
        "addPreviousOutputInEnv": False,
    }
    if triggers:
        plain["triggers"] = list(triggers)
    return Registration(
        type=LOCAL, name=name, urn=urn, parent="", provider="", inputs=plain,
        dependencies=[f"urn:pulumi:test::p::command:local:Command::{d}" for d in deps], protect=protect,
        retain_on_delete=retain, additional_secret_outputs=[], id=f"id-{name}", replace_on_changes=["triggers[*]"],
    )  # fmt: skip


def events(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []


def deployed(tmp_path: Path, *registrations: Registration) -> tuple[Applier, Path]:
    log = tmp_path / "log"
    applier = Applier(tmp_path / "no-key", {"PATH": "/usr/bin:/bin"})
    applier.up(Deployment("test", list(registrations)))
    log.unlink()
    return applier, log


def test_destroy_with_a_preview_refuses_before_deleting_anything(tmp_path):
    log = tmp_path / "log"
    applier, _ = deployed(tmp_path, command("volume", log, protect=True), command("app", log, deps=("volume",)))
    with pytest.raises(ApplyError, match="preview failed: volume protected"):
        applier.destroy()
    assert events(log) == []


def test_destroy_without_a_preview_deletes_the_unprotected_first(tmp_path):
    log = tmp_path / "log"
    applier, _ = deployed(
        tmp_path,
        command("base", log),
        command("volume", log, deps=("base",), protect=True),
        command("app", log, deps=("volume",)),
        command("other", log),
    )
    with pytest.raises(ApplyError, match="volume is protected"):
        applier.destroy(skip_preview=True)
    assert events(log) == ["delete other", "delete app"], "base is spared: the protected volume depends on it"
    assert sorted(a.name for a in applier.state.values()) == ["base", "volume"]


def test_exclude_protected_keeps_what_the_protected_depends_on(tmp_path):
    log = tmp_path / "log"
    applier, _ = deployed(
        tmp_path, command("base", log), command("volume", log, deps=("base",), protect=True), command("app", log)
    )
    applier.destroy(exclude_protected=True)
    assert events(log) == ["delete app"]
    assert sorted(a.name for a in applier.state.values()) == ["base", "volume"]


def test_a_trigger_replaces_create_first_and_retain_on_delete_skips_the_old_delete(tmp_path):
    log = tmp_path / "log"
    applier, _ = deployed(
        tmp_path, command("step", log, triggers=("a",)), command("kept", log, triggers=("a",), retain=True)
    )
    steps = applier.up(
        Deployment("test", [command("step", log, triggers=("b",)), command("kept", log, triggers=("b",), retain=True)])
    )
    assert [s.op for s in steps] == ["replace", "replace"]
    assert events(log) == ["create step", "create kept", "delete step"], "new create first; retained: no delete"


def test_a_protected_resource_is_never_replaced(tmp_path):
    log = tmp_path / "log"
    applier, _ = deployed(tmp_path, command("volume", log, triggers=("a",), protect=True))
    with pytest.raises(ApplyError, match="it is protected"):
        applier.up(Deployment("test", [command("volume", log, triggers=("b",), protect=True)]))
    assert events(log) == []


def test_a_preview_changes_nothing_and_says_what_would(tmp_path):
    log = tmp_path / "log"
    applier, _ = deployed(tmp_path, command("step", log, triggers=("a",)))
    planned = applier.plan(Deployment("test", [command("step", log, triggers=("b",)), command("new", log)]))
    assert [(s.name, s.op) for s in changes_only(planned)] == [("step", "replace"), ("new", "create")]
    assert events(log) == []


def test_the_model_refuses_inputs_it_does_not_know(tmp_path):
    odd = command("odd", tmp_path / "log")
    odd.inputs["interpreter"] = ["/bin/bash", "-c"]
    with pytest.raises(AssertionError, match="not modelled"):
        Applier(tmp_path / "no-key", {}).up(Deployment("test", [odd]))


def test_a_failing_step_stops_the_update_where_it_happened(tmp_path):
    log = tmp_path / "log"
    bad = command("bad", log)
    bad.inputs["create"] = "exit 1"
    with pytest.raises(ApplyError, match=r"bad \(create\)"):
        Applier(tmp_path / "no-key", {"PATH": "/usr/bin:/bin"}).up(
            Deployment("test", [command("first", log), bad, command("after", log)])
        )
    assert events(log) == ["create first"]


def test_an_absent_number_compares_as_the_types_zero():
    assert not diff(CONTAINER, read_back(memory=0, memorySwap=0), inputs(memory=None, memorySwap=None)).changed


def container_registration(**options) -> Registration:
    return Registration(
        type="docker:index/container:Container", name="c", urn="urn:pulumi:test::p::docker:index/container:Container::c",
        parent="", provider="", inputs=inputs(), dependencies=[], protect=False, retain_on_delete=False,
        additional_secret_outputs=[], **options,
    )  # fmt: skip


def test_replace_on_changes_turns_a_healthcheck_update_into_a_replacement(tmp_path):
    applier = Applier(tmp_path / "no-key", {})
    old = Applied(urn="c", type="docker:index/container:Container", name="c", inputs=inputs(), outputs=read_back())
    changed = inputs(healthcheck={**HEALTH, "interval": "30s"})
    plain = container_registration()
    assert applier._diff(plain, old, changed).update == ["healthcheck"], "the provider alone: a no-op update"
    forced = container_registration(replace_on_changes=["healthcheck"])
    changes = applier._diff(forced, old, changed)
    assert changes.replace == ["healthcheck"] and not changes.update
    # The bridge asks to delete first only for replacements the provider itself reports (ForceNew):
    # without the option this one would create a second container under the same name first.
    assert applier._deletes_before_replace(forced, changes) is False
    assert applier._deletes_before_replace(container_registration(delete_before_replace=True), changes) is True
    assert applier._deletes_before_replace(plain, applier._diff(plain, old, inputs(image="sha256:" + "b" * 64)))
