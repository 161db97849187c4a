"""The four configurations, started side by side on copies of one store, and removed again.

1. recipe  -- the blog's ``docker run ... pypiserver/pypiserver run -P /data/auth/.htpasswd
              -a update,download,list /data/packages`` with an htpasswd made by Debian's
              ``htpasswd -c`` (apr1); its arguments make the server ``auto``, i.e. waitress.
2. default -- the image with no arguments: its entrypoint runs gunicorn with /data/gunicorn.conf.py
              (one gevent worker). It has no password file: nothing needs one to read, uploads are refused.
3. ours    -- whatever the real program declares: its ``dev`` stack deployed onto this engine by the
              real engine (`pulumi up`, tests/support/engine.py), never written by hand here.
4. static  -- nginx (Debian's) serving a static PEP 503 tree of the same store, no auth: the limit.

Everything is named ``<prefix>-...`` and labelled ``pypi-bench.run=<prefix>``; ``Lab.cleanup()``
removes every container and volume it created, whatever happened before.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench.client import Endpoint
from bench.store import Store
from tests.host.commands import docker, log
from tests.host.machine import free_port
from tests.support.engine import RealStack, project_copy
from tests.support.recorded import ROOT, Deployment, run_program, stack_config

USER = "bench"
RUN_LABEL = "pypi-bench.run"
PYPISERVER_UID = 9898


def describe_hash(line: str) -> str:
    """'user:HASH' -> the scheme, e.g. 'bcrypt cost 10', 'apr1 MD5'."""
    hashed = line.strip().split(":", 1)[-1]
    if hashed.startswith("$apr1$"):
        return "apr1 MD5"
    if hashed[:4] in ("$2a$", "$2b$", "$2y$"):
        return f"bcrypt cost {int(hashed[4:6])}"
    if hashed.startswith("$5$") or hashed.startswith("$6$"):
        return "sha-crypt"
    if hashed.startswith("{SHA}"):
        return "SHA1"
    return "unknown scheme"


@dataclass
class Configuration:
    key: str
    title: str
    auth: str  # what protects it, e.g. "apr1 MD5", "none"
    server: str
    endpoint: Endpoint
    containers: list[str] = field(default_factory=list)  # full ids, everything the configuration runs
    takes_uploads: bool = True

    def names(self) -> dict[str, str]:
        """Container id -> name."""
        return {
            cid: docker("inspect", "--format", "{{.Name}}", cid).stdout.strip().lstrip("/") for cid in self.containers
        }

    def inside(self) -> tuple[str, str] | None:
        """(container id, origin inside its network namespace) of the container publishing the endpoint's port.

        Loopback traffic to a published port goes through docker-proxy, a userland copy that caps
        this machine at ~9-12k req/s whatever the server; clients on the network reach the container
        through the kernel's NAT instead. The load client runs in that container's network namespace
        and talks to its own 127.0.0.1, which measures the server and not the proxy.
        """
        parts = urlsplit(self.endpoint.origin)
        for cid in self.containers:
            ports = json.loads(docker("inspect", "--format", "{{json .NetworkSettings.Ports}}", cid).stdout) or {}
            for inner, bindings in ports.items():
                if any(int(b["HostPort"]) == parts.port for b in bindings or []):
                    return cid, f"{parts.scheme}://127.0.0.1:{inner.split('/')[0]}"
        return None  # e.g. host networking: the published path is then the only one


@dataclass
class Lab:
    prefix: str
    tools_image: str
    pypiserver_image: str
    store: Store
    work: Path
    password: str
    volumes: list[str] = field(default_factory=list)
    stack: RealStack | None = None

    # ------------------------------------------------------------------ helpers
    @property
    def labels(self) -> dict[str, str]:
        return {RUN_LABEL: self.prefix}

    def _label_args(self) -> list[str]:
        return [f"--label={k}={v}" for k, v in self.labels.items()]

    def _volume(self, name: str, labels: list[dict[str, str]] | None = None) -> str:
        extra = [f"--label={lab['label']}={lab['value']}" for lab in labels or []]
        docker("volume", "create", *self._label_args(), *extra, name)
        self.volumes.append(name)
        return name

    def _fill(self, volume: str, with_static_tree: bool, owner: int | None) -> None:
        """Copy the store into ``volume`` with a throw-away container (tar on stdin, no network)."""
        tar_path = self.work / f"fill-{'static' if with_static_tree else 'packages'}.tar"
        if not tar_path.exists():
            with tarfile.open(tar_path, "w") as tar:
                if with_static_tree:
                    tar.add(self.store.root / "packages", arcname="packages")
                    tar.add(self.store.root / "simple", arcname="simple")
                else:
                    for wheel in sorted(self.store.packages.iterdir()):
                        tar.add(wheel, arcname=wheel.name)
        script = "set -eu; tar -x -C /dst -f -"
        if owner is not None:
            script += f"; chown -R {owner}:{owner} /dst"
        with open(tar_path, "rb") as stdin:
            subprocess.run(
                ["docker", "run", "--rm", "-i", "--network", "none", *self._label_args(),
                 "--mount", f"type=volume,source={volume},target=/dst", "--entrypoint", "/bin/sh",
                 self.tools_image, "-c", script],
                stdin=stdin, check=True, capture_output=True, timeout=300,
            )  # fmt: skip

    def _run(self, name: str, *args: str) -> str:
        proc = docker("run", "--detach", "--name", name, *self._label_args(), *args)
        return proc.stdout.strip()

    # ------------------------------------------------------------------ the four configurations
    def recipe(self) -> Configuration:
        """The blog's recipe: `htpasswd -c`, then `docker run ... run -P ... -a update,download,list ...`."""
        port = free_port()
        packages = self._volume(f"{self.prefix}-recipe-packages")
        auth = self._volume(f"{self.prefix}-recipe-auth")
        self._fill(packages, with_static_tree=False, owner=PYPISERVER_UID)
        # `htpasswd -c ~/auth/.htpasswd USER` as the recipe says (Debian's apache2-utils, its default
        # hash), the password read from stdin (-i) rather than a prompt.
        subprocess.run(
            ["docker", "run", "--rm", "-i", "--network", "none", *self._label_args(),
             "--mount", f"type=volume,source={auth},target=/data/auth", "--entrypoint", "/bin/sh",
             self.tools_image, "-c", f"htpasswd -ci /data/auth/.htpasswd {USER}"],
            input=self.password, text=True, check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        line = docker(
            "run", "--rm", "--network", "none", *self._label_args(), "--mount",
            f"type=volume,source={auth},target=/data/auth", "--entrypoint", "cat", self.tools_image,
            "/data/auth/.htpasswd",
        ).stdout  # fmt: skip
        cid = self._run(
            f"{self.prefix}-recipe",
            "--publish", f"127.0.0.1:{port}:8080",
            "--mount", f"type=volume,source={packages},target=/data/packages",
            "--mount", f"type=volume,source={auth},target=/data/auth",
            self.pypiserver_image, "run", "-P", "/data/auth/.htpasswd", "-a", "update,download,list", "/data/packages",
        )  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        return Configuration(
            "recipe", "1 recipe (blog: run -P -a ...)", describe_hash(line), "auto = waitress, 4 threads",
            Endpoint(f"{base}/simple/", f"{base}/", USER, self.password), [cid],
        )  # fmt: skip

    def default(self) -> Configuration:
        """The image's default command: gunicorn with its shipped config. No password file: no auth."""
        port = free_port()
        packages = self._volume(f"{self.prefix}-default-packages")
        self._fill(packages, with_static_tree=False, owner=PYPISERVER_UID)
        cid = self._run(
            f"{self.prefix}-default",
            "--publish", f"127.0.0.1:{port}:8080",
            "--mount", f"type=volume,source={packages},target=/data/packages",
            self.pypiserver_image,
        )  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        return Configuration(
            "default", "2 image default (no args)", "none (uploads refused)", "gunicorn, 1 gevent worker",
            Endpoint(f"{base}/simple/", f"{base}/"), [cid],
        )  # fmt: skip

    def static(self) -> Configuration:
        port = free_port()
        tree = self._volume(f"{self.prefix}-static-tree")
        self._fill(tree, with_static_tree=True, owner=None)
        cid = self._run(
            f"{self.prefix}-static",
            "--publish", f"127.0.0.1:{port}:8080",
            "--mount", f"type=volume,source={tree},target=/srv/index,readonly",
            self.tools_image,
        )  # fmt: skip
        return Configuration(
            "static", "4 nginx static tree (limit)", "none", "nginx, 2 workers",
            Endpoint(f"http://127.0.0.1:{port}/simple/", None), [cid], takes_uploads=False,
        )  # fmt: skip

    def ours(self, ca_file: str | None, insecure: bool) -> tuple[Configuration, Deployment]:
        """What the program deploys: its `dev` stack with free ports, own names, auth and one user."""
        names = {
            "containerName": f"{self.prefix}-ours",
            "packagesVolume": f"{self.prefix}-ours-packages",
            "authVolume": f"{self.prefix}-ours-auth",
        }
        config: dict[str, Any] = {
            **stack_config("dev"),
            **_free_ports(stack_config("dev")),
            **names,
            "authenticate": ["update", "download", "list"],
            "users": {USER: self.password},
        }
        # The program's registrations under the mocks: the volume's labels, the containers' description.
        deployment = run_program("dev", config, secret_keys=("users",))
        # The package store exists before the index starts (as on a server with packages): create the
        # program's volume with its own labels and fill it; the provider's volume create then finds it
        # (Docker's VolumeCreate returns an existing volume of that name). Copying files under a running
        # gunicorn --preload worker would not be seen (#449).
        for volume in deployment.of_type("docker:index/volume:Volume"):
            if volume.plain["name"] == names["packagesVolume"]:
                self._volume(names["packagesVolume"], volume.plain.get("labels"))
                self._fill(names["packagesVolume"], with_static_tree=False, owner=PYPISERVER_UID)
        if names["packagesVolume"] not in self.volumes:
            raise RuntimeError(f"the program declares no volume named {names['packagesVolume']}")
        self.stack = RealStack(project_copy(self.work / "ours"), "dev", self.work / "ours-state", "local docker")
        self.stack.configure(config)
        log(f"bench: `pulumi up` of the program's dev stack ({len(deployment.registrations)} resources)")
        self.stack.up()
        resources = self.stack.resources()
        containers = [r["outputs"]["id"] for r in resources if r["type"] == "docker:index/container:Container"]
        exports = self.stack.outputs()
        https = exports["indexUrl"].startswith("https:")
        if https and not ca_file and not insecure:
            ca_file = str(self.work / "ours-ca.pem")
            Path(ca_file).write_text(exports["caCertificate"])
        endpoint = Endpoint(
            exports["indexUrl"], exports["uploadUrl"], USER, self.password, ca_file=ca_file, insecure=insecure
        )
        hashes = sorted({
            describe_hash(line)
            for r in deployment.registrations
            if r.name.endswith("htpasswd") and isinstance(r.plain.get("stdin"), str)
            for line in r.plain["stdin"].splitlines()[:1]
        })  # fmt: skip
        auth = ", ".join(hashes) or "?"
        if https:
            auth += ", TLS" + (" (CA verified)" if ca_file else " (not verified)")
        title = "3 ours (the program, dev stack)"
        return Configuration("ours", title, auth, describe_containers(deployment), endpoint, containers), deployment

    def track_volumes(self, container_ids: list[str]) -> None:
        """Remember every volume these containers mount, anonymous ones included (an image's VOLUME that
        nothing names, e.g. Caddy's /config, outlives a container removed without --volumes)."""
        for cid in container_ids:
            mounts = docker(
                "inspect", "--format", '{{range .Mounts}}{{if eq .Type "volume"}}{{.Name}} {{end}}{{end}}', cid
            )
            self.volumes += [v for v in mounts.stdout.split() if v not in self.volumes]

    # ------------------------------------------------------------------ teardown
    def _leftovers(self) -> dict[str, list[str]]:
        """Containers, volumes and networks of this run: its label, its volume list, its name prefix."""

        def names(kind: str, field: str, *extra: str) -> list[str]:
            listed = docker(kind, "ls", *extra, "--filter", f"name={self.prefix}", "--format", field, check=False)
            return [n for n in listed.stdout.split() if n.startswith(self.prefix)]

        labelled = docker("container", "ls", "--all", "--filter", f"label={RUN_LABEL}={self.prefix}",
                          "--format", "{{.Names}}", check=False).stdout.split()  # fmt: skip
        volumes = [v for v in self.volumes if docker("volume", "inspect", v, check=False).returncode == 0]
        return {
            "container": sorted(set(labelled) | set(names("container", "{{.Names}}", "--all"))),
            "volume": sorted(set(volumes) | set(names("volume", "{{.Name}}"))),
            "network": names("network", "{{.Name}}"),
        }

    def cleanup(self) -> list[str]:
        """Remove everything this run created, whatever state it is in; returns what is left."""
        problems: list[str] = []
        if self.stack is not None:
            try:
                self.stack.destroy(exclude_protected=False)
            except Exception as error:  # keep going: the rest must still go
                problems.append(f"`pulumi destroy` failed ({str(error)[:200]})")
        left = self._leftovers()
        if left["container"]:
            docker("rm", "--force", "--volumes", *left["container"], check=False)
        for volume in left["volume"]:
            docker("volume", "rm", "--force", volume, check=False)
        for network in left["network"]:
            docker("network", "rm", network, check=False)
        remaining = self._leftovers()
        problems += [f"{kind} left: {', '.join(items)}" for kind, items in remaining.items() if items]
        return problems


def _free_ports(config: dict[str, Any]) -> dict[str, str]:
    """A free loopback port for every port the program publishes (keys `*Port` but sshPort; 0 stays 0)."""
    import yaml

    declared = yaml.safe_load((ROOT / "Pulumi.yaml").read_text()).get("config", {})
    keys = [k for k in declared if k.endswith("Port") and k != "sshPort"]
    return {k: "0" if str(config.get(k, "")) == "0" else str(free_port()) for k in keys}


def _image_of(deployment: Deployment, container: Any) -> str:
    """The image name a declared container runs (its input is the mocks' made-up image id)."""
    images = {
        "sha256:" + hashlib.sha256(r.plain["name"].encode()).hexdigest(): r.plain["name"]
        for r in deployment.of_type("docker:index/remoteImage:RemoteImage")
    }
    return images.get(str(container.plain.get("image")), str(container.plain.get("image", "?")))


def describe_containers(deployment: Deployment) -> str:
    """`role=image` for each container the program declares, e.g. `front=caddy, container=pypiserver (gunicorn)`."""
    parts = []
    for r in deployment.of_type("docker:index/container:Container"):
        image = _image_of(deployment, r)
        repo = image.split("@")[0].rsplit(":", 1)[0].rsplit("/", 1)[-1]
        command = [str(c) for c in r.plain.get("command", [])]
        server = f" ({command[command.index('--server') + 1]})" if "--server" in command[:-1] else ""
        role = r.name.split("-", 1)[-1]
        parts.append(f"{role}={repo}{server}")
    return ", ".join(parts)


def container_commands(deployment: Deployment) -> list[str]:
    """Each declared container with its command (entrypoints shortened: the indexer's is a whole script)."""
    lines = []
    for r in deployment.of_type("docker:index/container:Container"):
        entry = [str(c) for c in r.plain.get("entrypoints", [])]
        shown = " ".join(e if len(e) < 60 else e[:20] + "..." for e in entry)
        command = " ".join(str(c) for c in r.plain.get("command", []))
        what = f"{shown} {command}".strip() or "(the image's default command)"
        lines.append(f"{r.name} ({_image_of(deployment, r)}): {what}")
    return lines
