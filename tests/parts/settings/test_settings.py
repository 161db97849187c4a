"""The settings as a whole: who may log in (settings/access.py), every key declared and used where it
does something, secrets never shown; each part's own section is tested in tests/parts/<part>/."""

from __future__ import annotations

import re

import pytest
import yaml

from components import settings
from components.settings import ConfigError, parse
from components.settings.access import _parse_authenticate
from tests.support.recorded import ROOT
from tests.support.stack_values import BACKUP_KEY, CERT, ECDSA_256, HOST_KEY, PASSWORD, SECRETS, refusals, remote

# (stack, config, key named in the error, a fragment of what is accepted)
BAD = [
    ("staging", remote(uploaders=["mallory"]), "uploaders", "uploaders are names from users (ci)"),
    ("staging", remote(users={"ci:admin": PASSWORD}), "users", "no ':'"),
    ("staging", remote(users={"": PASSWORD}), "users", "user names are"),
    ("staging", remote(users={"ci": ""}), "users.ci", f"at least {settings.MIN_PASSWORD} characters"),
    ("staging", remote(users={"ci": "short"}), "users.ci", f"at least {settings.MIN_PASSWORD} characters"),
    ("staging", remote(users={"ci": "x" * 73}), "users.ci", "at most 72 bytes"),
    ("staging", remote(users={}), "users", "add a user"),
    ("staging", remote(authenticate=["update", "upload"]), "authenticate", "update, download, list"),
    ("staging", remote(authenticate=[]), "authenticate", "nothing is protected"),
    ("production", remote(authenticate=["update"]), "authenticate", "production protects update, download and list"),
    ("staging", remote(bcryptRounds="3"), "bcryptRounds", "from 4 to 14"),
    ("staging", remote(bcryptRounds="20"), "bcryptRounds", "from 4 to 14"),
    ("staging", remote(metricsUsers=["prom"]), "metricsUsers", "metricsUsers are names from users (ci)"),
    ("staging", remote(metricsUsers=5), "metricsUsers", "expected a list"),
    ("staging", remote(metricsUsers=["ci"]), "metricsUsers", "add a user who may use the index"),
    (
        "staging",
        remote(users={"ci": PASSWORD, "prom": PASSWORD}, metricsUsers=["prom"], uploaders=["ci", "prom"]),
        "uploaders",
        "a metrics user (metricsUsers) may only scrape",
    ),
]


test_bad_value_names_key_and_what_is_accepted = refusals(BAD)


@pytest.mark.parametrize("password", [PASSWORD, "Zq" * 37, "Zq9!x"])
def test_errors_never_show_a_password(password):
    bad_tag = "latest" if password == PASSWORD else "v2.4.1"
    with pytest.raises(ConfigError) as error:
        parse(remote(users={"ci": password}, imageTag=bad_tag), "staging", SECRETS)
    assert password not in str(error.value)


def test_users_stored_in_clear_are_refused():
    with pytest.raises(
        ConfigError,
        match=r"pypi-index:users: got a value stored in clear; set passwords with `pulumi config set --secret",
    ):
        parse(remote(), "staging", frozenset())


def test_valid_remote_settings():
    result = parse(remote(sshPort="2222", authenticate='["list", "update"]'), "staging", SECRETS)
    assert result.host.ssh is not None and result.host.ssh.port == 2222 and result.host.ssh.host_key == HOST_KEY
    assert result.access.authenticate == ("update", "list"), "pypiserver's order, whatever the config's order"
    assert result.pypiserver.image.ref == "pypiserver/pypiserver:v2.4.1"
    assert result.front.public_url == "https://pypi.internal.example"
    assert (
        result.front.tls == "internal"
        and result.front.domain == "pypi.internal.example"
        and result.front.https_port == 443
    )
    assert (
        result.access.bcrypt_rounds == 10
        and not result.pypiserver.allow_overwrite
        and result.pypiserver.fallback_url is None
    )


def test_dev_needs_no_ssh_no_users():
    result = parse({"target": "local", "authenticate": [], "protectPackages": "false"}, "dev")
    assert result.host.ssh is None and result.access.users == {} and result.access.authenticate == ()
    assert result.front.public_url == "https://127.0.0.1"


def test_secret_values_are_not_in_repr():
    result = parse(remote(sshPrivateKey="-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n"), "staging", SECRETS)
    assert PASSWORD not in repr(result) and "PRIVATE KEY" not in repr(result)


def test_pulumi_yaml_declares_every_key_with_type_description_default():
    project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
    declared = project["config"]
    # Secrets cannot have a default in Pulumi.yaml (see its comment).
    assert set(declared) | set(settings.SECRET_KEYS) == set(settings.KEYS)
    assert not set(declared) & set(settings.SECRET_KEYS)
    # ... and its comment names exactly those keys, with their number in words.
    comment = [line for line in (ROOT / "Pulumi.yaml").read_text().splitlines() if line.startswith("#   ")]
    listed = [line.split()[1] for line in comment if not line.startswith("#    ")]
    assert sorted(listed) == sorted(settings.SECRET_KEYS), listed
    count = {3: "Three", 4: "Four", 5: "Five", 6: "Six", 7: "Seven"}[len(settings.SECRET_KEYS)]
    assert f"# {count} secret keys are deliberately not declared here" in (ROOT / "Pulumi.yaml").read_text()
    for key, spec in declared.items():
        assert {"type", "description", "default"} <= set(spec), key
    assert project["stackConfigDir"] == "config"
    # The declared defaults are what the program itself assumes (one source of truth in practice).
    defaults = {k: v["default"] for k, v in declared.items()}
    parsed = parse({**defaults, "authenticate": []}, "dev")
    assert parsed.pypiserver.image.tag == defaults["imageTag"] and parsed.front.https_port == defaults["httpsPort"]
    assert _parse_authenticate({"authenticate": defaults["authenticate"]}) == settings.ACTIONS


def test_committed_stack_files_name_only_known_keys():
    for path in (ROOT / "config").glob("Pulumi.*.yaml"):
        data = yaml.safe_load(path.read_text())
        for key in data["config"]:
            namespace, name = key.split(":", 1)
            assert namespace == "pypi-index" and name in settings.KEYS, f"{path.name}: {key}"
            assert re.match(r"^\w+$", name)


def test_uploaders_default_to_every_user_and_are_a_subset():
    two = {"ci": PASSWORD, "alice": PASSWORD}
    assert parse(remote(users=two), "staging", SECRETS).access.uploaders == ("alice", "ci")
    assert parse(remote(users=two, uploaders=["ci", "ci"]), "staging", SECRETS).access.uploaders == ("ci",)
    assert parse(remote(users=two, uploaders='["ci"]'), "staging", SECRETS).access.uploaders == ("ci",)


def test_metrics_users_may_only_scrape():
    three = {"ci": PASSWORD, "alice": PASSWORD, "prom": PASSWORD}
    access = parse(remote(users=three, metricsUsers=["prom"]), "staging", SECRETS).access
    assert access.metrics_users == ("prom",)
    assert access.uploaders == ("alice", "ci"), "every user but the metrics users, by default"
    assert access.readers == ("alice", "ci")
    assert parse(remote(users=three), "staging", SECRETS).access.readers == ("alice", "ci", "prom")


# A valid value, other than its default, for every key that only some configurations read.
ONLY_SOMETIMES = {
    "acmeEmail": "ops@example.com",
    "tlsCertificate": CERT,
    "tlsKey": "-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n",
    "sshHost": "pypi.internal.example",
    "sshPort": 2222,
    "sshUser": "admin",
    "sshHostKey": HOST_KEY,
    "insecureSkipHostKeyCheck": True,
    "sshPrivateKey": BACKUP_KEY,
    "dockerHost": "unix:///run/docker.sock",
    "uploaders": ["ci"],
    "metricsUsers": ["ci"],
    "bcryptRounds": 12,
    "owners": ["team-*: ci"],
    "uncoveredProjects": "nobody",
    "expires": ["ci: 2099-01-01T00:00:00Z"],
    "authVolume": "index-auth",
    "backupPassword": "restic repository passphrase",
    "backupSchedule": "daily",
    "backupKeepHourly": 3,
    "backupKeepDaily": 3,
    "backupKeepWeekly": 3,
    "backupKeepMonthly": 3,
    "backupImageRepository": "mirror.example/restic",
    "backupImageTag": "0.18.1",
    "backupImageDigest": "sha256:" + "a" * 64,
    "restoreFrom": "latest",
    "backupSshKey": BACKUP_KEY,
    "backupSshHostKey": ECDSA_256,
}


# A configuration that does not use each group: (stack, config).
WITHOUT = {
    "tls: acme": ("staging", remote()),
    "tls: supplied": ("staging", remote()),
    "target: ssh": ("dev", {"target": "local", "authenticate": []}),
    "target: local (an ssh target reaches Docker through sshHost)": ("staging", remote()),
    "users (and the actions they protect)": ("dev", {"target": "local", "authenticate": []}),
    "backupRepository": (
        "staging",
        remote(backupRepository=None, backupPassword=None, backupSshKey=None, backupSshHostKey=None),
    ),
    "an sftp: backupRepository": (
        "staging",
        remote(backupRepository="rest:https://backup.example/pypi", backupSshKey=None, backupSshHostKey=None),
    ),
}


ROWS = [(key, where) for keys, _, where in settings.ONLY_USED_WITH for key in keys]


@pytest.mark.parametrize(("key", "where"), ROWS, ids=[key for key, _ in ROWS])
def test_a_key_that_would_do_nothing_is_refused_naming_where_it_is_used(key, where):
    stack, values = WITHOUT[where]
    parse(values, stack, SECRETS | {"tlsKey", "sshPrivateKey"})  # accepted as it is
    with pytest.raises(ConfigError) as error:
        parse({**values, key: ONLY_SOMETIMES[key]}, stack, SECRETS | {"tlsKey", "sshPrivateKey"})
    assert error.value.key == key
    assert f"only used with {where}" in str(error.value)
    if key in settings.SECRET_KEYS:
        assert str(ONLY_SOMETIMES[key]) not in str(error.value), "a secret is never shown"


def test_every_key_that_only_sometimes_does_something_has_a_case():
    assert {key for key, _ in ROWS} == set(ONLY_SOMETIMES)
    assert {where for _, where in ROWS} == set(WITHOUT)
