"""The rules of the pypi-index policy pack.

Each rule is a pure function `check(resource_type, name, props, options, config) -> [messages]`: it takes
the resource as the engine hands it to a policy (type token, name, camelCase inputs with secrets already
unwrapped, numbers as floats) and returns one message per problem, empty when the resource complies or
the rule does not apply to it. The tests call these functions directly with the program's registrations.

At the bottom, `POLICIES` wraps each rule in a `ResourceValidationPolicy`. The wrapper only converts the
SDK's arguments (an unknown-checking proxy over the inputs, `PolicyResourceOptions`, the policy config)
into plain values; every decision is made here. Importing this module has no side effect: the
`PolicyPack` (which starts a gRPC server and never returns) is built in `__main__.py` only.

What a resource policy sees (pulumi-policy 1.21.0, pulumi 3.272.0):
- `args.props`: the inputs. Secret inputs (such as `command:remote:Command`'s `connection`) arrive
  unwrapped, as plain values: a message must never echo them. Values not known during preview are
  sentinels that raise `UnknownValueError` when read; here they become `UNKNOWN` and the check that needs
  them is skipped (it runs again at `pulumi up`, when inputs are known).
- `args.opts.protect` is visible; `retainOnDelete` is NOT: neither `PolicyResourceOptions` nor the
  engine's `AnalyzerResourceOptions` carries it, so a policy cannot check it (the program's tests do).
- Provider resources (`pulumi:providers:docker`) are validated like any other resource; their inputs
  are the provider config, non-string values JSON-encoded (`sshOpts` is a JSON list in a string).
"""

from __future__ import annotations

import ipaddress
import json
import re
import shlex
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, TypeGuard

from pulumi_policy import (
    Policy,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError

PACK_NAME = "pypi-index"

DOCKER_PROVIDER = "pulumi:providers:docker"
IMAGE = "docker:index/remoteImage:RemoteImage"
VOLUME = "docker:index/volume:Volume"
CONTAINER = "docker:index/container:Container"
REMOTE_COMMAND = "command:remote:Command"

ACTIONS = ("update", "download", "list")
ROLE_LABEL = "pypi-index.role"
RELEASE_TAG = re.compile(r"^v?\d+\.\d+\.\d+$")
DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
PUBLIC_KEY = re.compile(
    r"^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\.com|"
    r"sk-ecdsa-sha2-nistp256@openssh\.com) [A-Za-z0-9+/]+={0,3}(\s.*)?$"
)


class _Unknown:
    """A value the engine does not know yet (preview, computed from another resource's output)."""

    _instance: _Unknown | None = None

    def __new__(cls) -> _Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN = _Unknown()


@dataclass(frozen=True)
class Options:
    """The resource options a rule may look at."""

    protect: bool = False
    retain_on_delete: bool | None = None
    """None: not visible to policies (the SDK does not pass it); the check is skipped."""


NO_OPTIONS = Options()


class Subject(NamedTuple):
    """What every resource rule looks at: the resource as the engine shows it to a policy, and the rule's
    configuration (None: the rule's defaults)."""

    resource_type: str
    name: str
    props: Mapping[str, Any]
    options: Options = NO_OPTIONS
    config: Mapping[str, Any] | None = None


def _label(resource_type: str, name: str) -> str:
    kind = "docker provider" if resource_type == DOCKER_PROVIDER else resource_type.rsplit(":", 1)[-1]
    return f'{kind} "{name}"'


def _seq(value: Any) -> TypeGuard[Sequence[Any]]:
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes))


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None or value is UNKNOWN:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


# --- image-pinned ------------------------------------------------------------------------------------


def parse_image_ref(ref: str) -> tuple[str, str | None, str | None]:
    """`repo[:port]/path[:tag][@digest]` -> (repository, tag, digest)."""
    rest, _, digest = ref.partition("@")
    repository, tag = rest, None
    if ":" in rest.rsplit("/", 1)[-1]:
        repository, tag = rest.rsplit(":", 1)
    return repository, tag or None, digest or None


def _image_keys(name: str, repository: str) -> tuple[str, str, str]:
    """The config keys that choose this image, and an example tag: the front server's, restic's or pypiserver's."""
    if "front" in name or repository.rsplit("/", 1)[-1] == "caddy":
        return "frontImageTag", "frontImageDigest", "2.11.7"
    if "backup" in name or repository.rsplit("/", 1)[-1] == "restic":
        return "backupImageTag", "backupImageDigest", "0.18.0"
    return "imageTag", "imageDigest", "v2.4.1"


def _image_problems(label: str, name: str, ref: str, require_digest: bool) -> list[str]:
    repository, tag, digest = parse_image_ref(ref)
    tag_key, digest_key, example = _image_keys(name, repository)
    problems = []
    if tag is None:
        problems.append(
            f'{label} uses image "{ref}" without a tag (Docker pulls latest, which moves): '
            f"pin a release: pulumi config set {tag_key} {example}"
        )
    elif not RELEASE_TAG.match(tag):
        problems.append(
            f'{label} uses the floating tag "{tag}" ({ref}): pin a release tag: pulumi config set {tag_key} {example}'
        )
    if digest is not None and not DIGEST.match(digest):
        problems.append(
            f'{label} uses the malformed digest "{digest}": expected sha256: and 64 lowercase hex digits: '
            f"pulumi config set {digest_key} sha256:..."
        )
    elif digest is None and require_digest:
        shown = f"{repository}:{tag}" if tag else repository
        problems.append(
            f'{label} uses image "{ref}" without a digest, and this stack pins the digest too: '
            f"pulumi config set {digest_key} sha256:... (the digest of {shown}, e.g. from "
            f"`docker buildx imagetools inspect {shown}`)"
        )
    return problems


def image_pinned(subject: Subject) -> list[str]:
    """The image is a release tag (never latest or a moving tag), with a digest where `requireDigest` is set."""
    resource_type, name, props, config = subject.resource_type, subject.name, subject.props, subject.config
    require_digest = bool((config or {}).get("requireDigest", False))
    label = _label(resource_type, name)
    if resource_type == IMAGE:
        ref = props.get("name")
    elif resource_type == CONTAINER:
        ref = props.get("image")
        # A content-addressed image ID (what the program passes: the RemoteImage's imageId) is pinned.
        if isinstance(ref, str) and DIGEST.match(ref):
            return []
    else:
        return []
    if ref is UNKNOWN:
        return []
    if not isinstance(ref, str) or not ref:
        return [f"{label} names no image: set its tag (imageTag or frontImageTag) and digest"]
    return _image_problems(label, name, ref, require_digest)


# --- auth-protects-all-actions -------------------------------------------------------------------------


def _option_values(args: Sequence[str], long: str, short: str) -> list[str]:
    """Every value given to an argparse option, in order (the last one is the one that counts).

    Handles `--opt value`, `--opt=value`, `-o value`, `-ovalue` and argparse's long-option
    abbreviations (`--auth value` is `--authenticate value`).
    """
    values = []
    i = 0
    while i < len(args):
        arg = args[i]
        flag, has_value, inline = arg.partition("=") if arg.startswith("--") else (arg, False, "")
        if arg.startswith("--") and len(flag) > 2 and long.startswith(flag):
            if has_value:
                values.append(inline)
            else:
                values.append(args[i + 1] if i + 1 < len(args) else "")
                i += 1
        elif arg == short:
            values.append(args[i + 1] if i + 1 < len(args) else "")
            i += 1
        elif arg.startswith(short) and not arg.startswith("--") and len(arg) > len(short):
            values.append(arg[len(short) :])
        i += 1
    return values


def is_index_container(props: Mapping[str, Any], config: Mapping[str, Any] | None = None) -> bool:
    """pypiserver's container: named as configured, or started with pypiserver's auth options."""
    names = (config or {}).get("indexContainerNames", ["pypiserver"])
    if props.get("name") in names:
        return True
    command = props.get("command")
    if not _seq(command):
        return False
    args = [a for a in command if isinstance(a, str)]
    return bool(_option_values(args, "--authenticate", "-a") or _option_values(args, "--passwords", "-P"))


def auth_protects_all_actions(subject: Subject) -> list[str]:
    """pypiserver asks for a password for update, download and list (`-a update,download,list -P FILE`)."""
    resource_type, name, props, config = subject.resource_type, subject.name, subject.props, subject.config
    if resource_type != CONTAINER or not is_index_container(props, config):
        return []
    command = props.get("command")
    if command is UNKNOWN or (_seq(command) and any(a is UNKNOWN for a in command)):
        return []
    label = _label(resource_type, name)
    fix = (
        "protect all three: pulumi config rm authenticate (the default is [update, download, list]) "
        "and add users with pulumi config set --secret --path 'users.NAME' PASSWORD"
    )
    args = [str(a) for a in command] if _seq(command) else []
    given = _option_values(args, "--authenticate", "-a")
    # pypiserver's default is `-a update`: without the option, anyone can download and list.
    value = given[-1] if given else "update"
    protected = set() if value.strip() == "." else {a.strip() for a in value.split(",") if a.strip()}
    missing = [a for a in ACTIONS if a not in protected]
    problems = []
    if missing:
        problems.append(f"{label}: pypiserver lets anyone {', '.join(missing)} (--authenticate {value!s}); {fix}")
    passwords = _option_values(args, "--passwords", "-P")
    if protected and (not passwords or passwords[-1].strip() in ("", ".")):
        problems.append(
            f"{label}: pypiserver has no password file (--passwords), so nobody can log in; "
            "add users with pulumi config set --secret --path 'users.NAME' PASSWORD"
        )
    return problems


# --- ssh-host-key-pinned --------------------------------------------------------------------------------


def ssh_options(raw: Any) -> dict[str, str]:
    """OpenSSH `-o` options as {lowercased key: value}; the first value of a key wins, as in ssh."""
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError:
            raw = shlex.split(raw)
    tokens = [str(t) for t in raw] if _seq(raw) else []
    options: dict[str, str] = {}
    i = 0
    while i < len(tokens):
        word = tokens[i]
        text = None
        if word == "-o" and i + 1 < len(tokens):
            text, i = tokens[i + 1], i + 1
        elif word.startswith("-o") and len(word) > 2:
            text = word[2:]
        i += 1
        if text is None:
            continue
        match = re.match(r"^\s*([A-Za-z]+)\s*(?:=|\s)\s*(.*?)\s*$", text)
        if match:
            options.setdefault(match.group(1).lower(), match.group(2))
    return options


def _known_hosts_key(command: str) -> bool:
    """KnownHostsCommand `/bin/echo <host pattern> <key type> <base64>` holds a public key."""
    parts = command.split()
    return any(PUBLIC_KEY.match(" ".join(parts[i : i + 2])) for i in range(len(parts) - 1))


def ssh_host_key_pinned(subject: Subject) -> list[str]:
    """Both SSH paths accept only the host's pinned key: the Docker provider and every remote command."""
    resource_type, name, props = subject.resource_type, subject.name, subject.props
    label = _label(resource_type, name)
    pin = (
        'pin the host\'s key: pulumi config set sshHostKey "ssh-ed25519 AAAA..." (the text of '
        "/etc/ssh/ssh_host_ed25519_key.pub, read on the host) and pulumi config rm insecureSkipHostKeyCheck"
    )
    if resource_type == DOCKER_PROVIDER:
        host = props.get("host")
        if host is UNKNOWN or not isinstance(host, str) or not host.startswith("ssh://"):
            return []  # the local engine: no SSH
        raw = props.get("sshOpts")
        if raw is UNKNOWN:
            return []
        opts = ssh_options(raw)
        problems = []
        strict = opts.get("stricthostkeychecking")
        if (strict or "").lower() != "yes":
            problems.append(
                f"{label} reaches {host} with StrictHostKeyChecking={strict or 'unset (ask)'}: "
                f"ssh would accept a key it has not been given; {pin}"
            )
        command = opts.get("knownhostscommand")
        if not command or not _known_hosts_key(command):
            problems.append(f"{label} reaches {host} without the pinned key (no KnownHostsCommand with a key); {pin}")
        for option, shown in (
            ("userknownhostsfile", "UserKnownHostsFile"),
            ("globalknownhostsfile", "GlobalKnownHostsFile"),
        ):
            if opts.get(option) != "/dev/null":
                problems.append(
                    f"{label} reaches {host} with {shown}={opts.get(option) or 'unset (the default file)'}: "
                    "a key recorded there would be accepted besides the pinned one; set it to /dev/null "
                    "(the program does when sshHostKey is set)"
                )
        return problems
    if resource_type == REMOTE_COMMAND:
        # `connection` is a secret: say which resource, never what the connection holds.
        connection = props.get("connection")
        hops = [("connection", connection)]
        if isinstance(connection, Mapping) and connection.get("proxy") is not None:
            hops.append(("connection.proxy", connection.get("proxy")))
        problems = []
        for where, hop in hops:
            key: Any = hop.get("hostKey") if isinstance(hop, Mapping) else hop
            if key is UNKNOWN:
                continue
            if not isinstance(key, str) or not PUBLIC_KEY.match(key.strip()):
                problems.append(
                    f"{label} connects without a pinned host key ({where}.hostKey is not a public key); {pin}"
                )
        return problems
    return []


# --- package-volume-protected ---------------------------------------------------------------------------


def is_packages_volume(props: Mapping[str, Any], config: Mapping[str, Any] | None = None) -> bool:
    """The package store: labelled with a protected role (pypi-index.role=packages), or named as configured."""
    config = config or {}
    roles = config.get("roles", ["packages"])
    labels = props.get("labels")
    if _seq(labels):
        for entry in labels:
            if isinstance(entry, Mapping) and entry.get("label") == ROLE_LABEL and entry.get("value") in roles:
                return True
    return props.get("name") in config.get("volumeNames", ["pypiserver-packages"])


def package_volume_protected(subject: Subject) -> list[str]:
    """The package volume is `protect`ed (and `retainOnDelete`, where the engine lets a policy see it)."""
    resource_type, name, props, options, config = (
        subject.resource_type,
        subject.name,
        subject.props,
        subject.options,
        subject.config,
    )
    if resource_type != VOLUME or not is_packages_volume(props, config):
        return []
    label = _label(resource_type, name)
    fix = "pulumi config set protectPackages true (protects and retains the package volume)"
    problems = []
    if not options.protect:
        problems.append(
            f"{label} holds the packages but is not protected: destroy or a replacement would delete them; {fix}"
        )
    if options.retain_on_delete is False:
        problems.append(f"{label} holds the packages but is not retained on delete; {fix}")
    return problems


# --- index-not-public-without-tls ----------------------------------------------------------------------


def all_interfaces(ip: Any) -> bool:
    """Docker publishes on every interface when the address is empty, 0.0.0.0 or ::."""
    if ip is None or (isinstance(ip, str) and not ip.strip()):
        return True
    try:
        return ipaddress.ip_address(str(ip).strip().strip("[]")).is_unspecified
    except ValueError:
        return False


def index_not_public_without_tls(subject: Subject) -> list[str]:
    """pypiserver speaks plain HTTP: it is never published on all interfaces; only the TLS front server is."""
    resource_type, name, props, config = subject.resource_type, subject.name, subject.props, subject.config
    if resource_type != CONTAINER or not is_index_container(props, config):
        return []
    label = _label(resource_type, name)
    fix = (
        "pypiserver belongs on the internal network behind the TLS front server, which alone publishes "
        "httpsPort: remove the pypiserver container's ports (or bind them to 127.0.0.1) in components/pypiserver/resources.py"
    )
    problems = []
    if props.get("networkMode") == "host":
        problems.append(f"{label} uses the host's network: pypiserver's plain HTTP port is on every interface; {fix}")
    ports = props.get("ports")
    if not _seq(ports):
        return problems
    for port in ports:
        if not isinstance(port, Mapping) or port.get("ip") is UNKNOWN or not all_interfaces(port.get("ip")):
            continue
        internal, external = _number(port.get("internal")), _number(port.get("external"))
        shown = int(internal) if internal is not None else "?"
        where = f"{port.get('ip') or '0.0.0.0'}:{int(external) if external is not None else '(random)'}"
        problems.append(
            f"{label} publishes pypiserver's plain HTTP (container port {shown}) on all interfaces ({where}), "
            f"beside the TLS front server: passwords could cross the network in clear; {fix}"
        )
    return problems


# --- container-unprivileged ----------------------------------------------------------------------------

_NO_NEW_PRIVILEGES = {"no-new-privileges", "no-new-privileges:true", "no-new-privileges=true"}
# What Docker grants every container anyway: adding one of these back (after dropping ALL) is no privilege.
DOCKER_DEFAULT_CAPABILITIES = frozenset(
    {
        "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE",
        "NET_RAW", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
    }
)  # fmt: skip


def _capabilities(props: Mapping[str, Any], which: str) -> list[str]:
    capabilities = props.get("capabilities")
    values = capabilities.get(which) if isinstance(capabilities, Mapping) else None
    return [str(c).upper().removeprefix("CAP_") for c in values if c is not UNKNOWN] if _seq(values) else []


def container_unprivileged(subject: Subject) -> list[str]:
    """Not privileged, no capability beyond Docker's defaults, no-new-privileges, confined, no root with capabilities."""
    resource_type, name, props = subject.resource_type, subject.name, subject.props
    if resource_type != CONTAINER:
        return []
    label = _label(resource_type, name)
    where = "in its docker.Container (components/scope.py and the module that declares it)"
    problems = []
    if props.get("privileged") is True:
        problems.append(
            f"{label} is privileged (full access to the host's devices and kernel): remove privileged=True {where}"
        )
    extra = [c for c in _capabilities(props, "adds") if c not in DOCKER_DEFAULT_CAPABILITIES]
    if extra:
        problems.append(f"{label} adds the capabilities {', '.join(extra)}: remove them from capabilities.adds {where}")
    security = props.get("securityOpts")
    if security is not UNKNOWN:
        opts = [str(s).strip() for s in security] if _seq(security) else []
        if not _NO_NEW_PRIVILEGES & set(opts):
            problems.append(
                f'{label} can gain privileges (setuid binaries): add security_opts=["no-new-privileges:true"] {where}'
            )
        loose = [s for s in opts if s.endswith("unconfined") or s in ("label=disable", "label:disable")]
        if loose:
            problems.append(
                f"{label} turns off a kernel confinement ({', '.join(loose)}): remove it from security_opts {where}"
            )
    user = props.get("user")
    if (
        isinstance(user, str)
        and user.split(":", 1)[0].strip() in ("root", "0")
        and "ALL" not in _capabilities(props, "drops")
    ):
        problems.append(
            f'{label} runs as root (user "{user}") with Docker\'s default capabilities: drop them '
            f'(capabilities drops=["ALL"]) or run as a non-root user {where}'
        )
    return problems


# --- container-memory-limit ----------------------------------------------------------------------------


def container_memory_limit(subject: Subject) -> list[str]:
    """A memory limit (MB).

    Swap is not policed: Docker can bound it only where the kernel accounts for swap, and elsewhere
    stores -1 whatever it was asked (moby daemon/daemon_unix.go, verifyPlatformContainerResources),
    so the program declares -1 to read back the same on every host; the memory limit itself holds.
    """
    resource_type, name, props = subject.resource_type, subject.name, subject.props
    if resource_type != CONTAINER:
        return []
    label = _label(resource_type, name)
    memory = props.get("memory")
    if memory is UNKNOWN:
        return []
    if (_number(memory) or 0) <= 0:
        return [
            f"{label} has no memory limit: one runaway request can exhaust the host; pulumi config set memoryMb 256"
        ]
    return []


# --- backups-scheduled (a stack rule: it needs to see every resource) -------------------------------------

BACKUP_TIMER = "pypiserver-backup.timer"


def backups_scheduled(
    resources: Sequence[tuple[str, str, Mapping[str, Any]]], config: Mapping[str, Any] | None = None
) -> list[str]:
    """A package store on a remote host has an off-host backup on a schedule: a step that enables the
    backup timer (components/store/backup_scripts.py, `install`). `resources`: (type, name, inputs)."""
    volumes = [name for kind, name, props in resources if kind == VOLUME and is_packages_volume(props, config)]
    commands = [props for kind, _, props in resources if kind == REMOTE_COMMAND]
    if not volumes or not commands:
        return []  # nothing kept, or the local engine (dev): no systemd to run a timer
    for props in commands:
        create = props.get("create")
        if create is UNKNOWN or (isinstance(create, str) and f"systemctl enable --now {BACKUP_TIMER}" in create):
            return []
    return [
        f"{_label(VOLUME, volumes[0])} holds the packages on a remote host with no scheduled backup: a lost "
        "host loses every package. Set backupRepository and the secrets backupPassword (and backupSshKey "
        "with backupSshHostKey for sftp:): see README, Backups and restore"
    ]


# --- the policies ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    name: str
    description: str
    check: Callable[..., list[str]]
    config: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """JSON schema of each config property (with its default), as in the policy config file."""

    def defaults(self) -> dict[str, Any]:
        return {k: v["default"] for k, v in self.config.items() if "default" in v}


INDEX_CONTAINER_NAMES: Mapping[str, Any] = {
    "type": "array",
    "items": {"type": "string"},
    "default": ["pypiserver"],
    "description": "Docker names of pypiserver containers (the program's containerName); a container "
    "started with pypiserver's --authenticate or --passwords counts too.",
}

RULES: tuple[Rule, ...] = (
    Rule(
        "image-pinned",
        "The pypiserver image is pinned: a release tag (never latest or another moving tag), and in "
        "production also its digest (requireDigest).",
        image_pinned,
        {"requireDigest": {"type": "boolean", "default": False, "description": "Require tag@sha256:digest."}},
    ),
    Rule(
        "auth-protects-all-actions",
        "pypiserver requires a password for update, download and list (--authenticate update,download,list "
        "with a password file). The front server's own basic_auth (Caddyfile, a secret command input) is not "
        "checked here: both follow the authenticate config, and the program's tests check the Caddyfile.",
        auth_protects_all_actions,
        {"indexContainerNames": INDEX_CONTAINER_NAMES},
    ),
    Rule(
        "ssh-host-key-pinned",
        "Both SSH paths accept only the host's pinned key: the Docker provider (StrictHostKeyChecking=yes, "
        "the key from KnownHostsCommand, no known_hosts files) and every remote command (connection.hostKey).",
        ssh_host_key_pinned,
    ),
    Rule(
        "package-volume-protected",
        "The package volume is protected (and retained on delete), so destroy or a replacement cannot delete "
        "the packages. Policies cannot see retainOnDelete; the program sets both from protectPackages.",
        package_volume_protected,
        {
            "roles": {
                "type": "array",
                "items": {"type": "string"},
                "default": ["packages"],
                "description": "Volumes labelled pypi-index.role=<one of these> must be protected.",
            },
            "volumeNames": {
                "type": "array",
                "items": {"type": "string"},
                "default": ["pypiserver-packages"],
                "description": "Docker names of volumes that must be protected, whatever their labels.",
            },
        },
    ),
    Rule(
        "index-not-public-without-tls",
        "pypiserver (plain HTTP) is not published on all interfaces (0.0.0.0, ::, no address, or the host's "
        "network): only the TLS front server is, with pypiserver on an internal network behind it. Advisory "
        "until the TLS front existed (issue #4); it does now, so production.json makes it mandatory.",
        index_not_public_without_tls,
        {"indexContainerNames": INDEX_CONTAINER_NAMES},
    ),
    Rule(
        "container-unprivileged",
        "Every container runs without privileges: not privileged, no capability beyond Docker's defaults, "
        "no-new-privileges, no unconfined security profile, and not root unless all capabilities are dropped.",
        container_unprivileged,
    ),
    Rule(
        "container-memory-limit",
        "Every container has a memory limit.",
        container_memory_limit,
    ),
)


@dataclass(frozen=True)
class StackRule(Rule):
    """A rule over the whole stack (every resource at once): its check gets every resource."""


STACK_RULES: tuple[StackRule, ...] = (
    StackRule(
        "backups-scheduled",
        "A stack that keeps the package store on a remote host backs it up off the host on a schedule "
        "(the backup timer is installed); production.json makes it mandatory, as the settings do.",
        backups_scheduled,
        next(rule.config for rule in RULES if rule.name == "package-volume-protected"),
    ),
)


def plain(value: Any) -> Any:
    """The SDK's unknown-checking proxies as plain dicts and lists, unknown values as UNKNOWN."""
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key in value:
            try:
                out[key] = plain(value[key])
            except UnknownValueError:
                out[key] = UNKNOWN
        return out
    if _seq(value):
        items: list[Any] = []
        for i in range(len(value)):
            try:
                items.append(plain(value[i]))
            except UnknownValueError:
                items.append(UNKNOWN)
        return items
    return value


def _policy(rule: Rule) -> ResourceValidationPolicy:
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        opts = getattr(args, "opts", None)
        options = Options(
            protect=bool(getattr(opts, "protect", False)),
            # Not in PolicyResourceOptions today; read it if a later SDK passes it.
            retain_on_delete=getattr(opts, "retain_on_delete", None),
        )
        config = {**rule.defaults(), **dict(args.get_config() or {})}
        for message in rule.check(Subject(args.resource_type, args.name, plain(args.props), options, config)):
            report_violation(message, None)

    # No enforcement level here: the pack's default (advisory) applies unless a config file sets one.
    return ResourceValidationPolicy(
        name=rule.name, description=rule.description, validate=validate, config_schema=_schema(rule)
    )


def _stack_policy(rule: StackRule) -> StackValidationPolicy:
    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        config = {**rule.defaults(), **dict(args.get_config() or {})}
        resources = [(r.resource_type, r.name, plain(r.props)) for r in args.resources]
        for message in rule.check(resources, config):
            report_violation(message, None)

    return StackValidationPolicy(
        name=rule.name, description=rule.description, validate=validate, config_schema=_schema(rule)
    )


def _schema(rule: Rule) -> PolicyConfigSchema | None:
    """The rule's configuration properties, as the engine validates a policy config file against them."""
    return PolicyConfigSchema(properties={k: dict(v) for k, v in rule.config.items()}) if rule.config else None


POLICIES: list[Policy] = [*(_policy(rule) for rule in RULES), *(_stack_policy(rule) for rule in STACK_RULES)]
