"""The rules of the pypi-index policy pack, and how they become policies.

The checks live by what they guard: image_rules.py, access_rules.py (passwords, SSH host keys),
publish_rules.py (who may publish which project, and until when),
store_rules.py (the package volume, backups), container_rules.py; subjects.py says what a rule sees
and how it recognises the program's resources, by the facts program_facts.py imports from the program.

Each rule is a pure function `check(resource_type, name, props, options, config) -> [messages]`: it takes
the resource as the engine hands it to a policy (type token, name, camelCase inputs with secrets already
unwrapped, numbers as floats) and returns one message per problem, empty when the resource complies or
the rule does not apply to it. The tests call these functions directly with the program's registrations.

Here, `POLICIES` wraps each rule in a `ResourceValidationPolicy`. The wrapper only converts the
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

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pulumi_policy import (
    Policy,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from policy.access_rules import auth_protects_all_actions, ssh_host_key_pinned
from policy.container_rules import container_memory_limit, container_unprivileged, index_not_public_without_tls
from policy.image_rules import image_pinned
from policy.program_facts import CONTAINER_NAME, PACKAGES_ROLE, PACKAGES_VOLUME, ROLE_LABEL
from policy.publish_rules import ownership_declared, upload_credentials_expire
from policy.store_rules import backups_scheduled, package_volume_protected
from policy.subjects import Options, Subject, plain

PACK_NAME = "pypi-index"


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
    "default": [CONTAINER_NAME],
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
                "default": [PACKAGES_ROLE],
                "description": f"Volumes labelled {ROLE_LABEL}=<one of these> must be protected.",
            },
            "volumeNames": {
                "type": "array",
                "items": {"type": "string"},
                "default": [PACKAGES_VOLUME],
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
    Rule(
        "ownership-declared",
        "Who may publish which project is declared (owners rules, or uncoveredProjects nobody), so an "
        "uploader cannot publish another team's project. Advisory in production.json, off in staging.json.",
        ownership_declared,
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
    StackRule(
        "upload-credentials-expire",
        "Every user who may upload has an expiry (expires), so a credential nobody renews stops working. "
        "Advisory in production.json, off in staging.json.",
        upload_credentials_expire,
    ),
)


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
