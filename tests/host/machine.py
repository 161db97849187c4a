"""``TestHost``: a throw-away server to deploy onto -- systemd, sshd and its own Docker engine in a
container of the local engine, reachable only on loopback.

The container flags follow the recipe verified on these machines (shared notes, test-host.md):

- ``--privileged`` fails here (the VM lacks CAP_SYS_RESOURCE), so: all capabilities but that one,
  seccomp/apparmor/system paths unconfined, every device allowed;
- cgroup v1: the container gets its OWN tmpfs at /sys/fs/cgroup plus one bind per hierarchy.
  Never bind the whole /sys/fs/cgroup: the inner systemd would remount the machine's own cgroup
  tmpfs read-only and break the machine for everything after;
- tmpfs /run and /run/lock for systemd; a docker volume at /var/lib/docker so the inner engine
  uses overlay2 (not vfs) and keeps its state across ``restart()``;
- sshd and the index port published on 127.0.0.1 only, on ports picked at run time.

SSH is pinned: the host's ed25519 key is read through ``docker exec`` (a path that does not trust
the network) and a known_hosts file holding only that key is used with StrictHostKeyChecking=yes.
"""

from __future__ import annotations

import atexit
import os
import shlex
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

from .commands import Stdin, docker, figure, log, run, wait_until
from .images import HOST_ENGINES, Images, ensure_images

LABEL = "pypi-test.host"
CGROUP_ROOT = Path("/sys/fs/cgroup")

# Flags replacing --privileged (see module docstring).
_SECURITY_FLAGS = (
    "--cap-add",
    "ALL",
    "--cap-drop",
    "SYS_RESOURCE",
    "--security-opt",
    "seccomp=unconfined",
    "--security-opt",
    "apparmor=unconfined",
    "--security-opt",
    "systempaths=unconfined",
    "--device-cgroup-rule",
    "a *:* rwm",
)
# systemd 256 and newer (Debian 13 has 257) refuses cgroup v1 unless forced; older ones ignore the flag.
_INIT = ("/sbin/init", "systemd.legacy_systemd_cgroup_controller=1", "SYSTEMD_CGROUP_ENABLE_LEGACY_FORCE=1")


def free_port() -> int:
    """A currently free TCP port on 127.0.0.1 (the kernel picks it; tiny race until docker binds it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cgroup_mount_flags() -> list[str]:
    """Own tmpfs at /sys/fs/cgroup + one bind per v1 hierarchy (all entries except ``unified``).

    Refuses cgroup v2-only machines: this recipe was verified on cgroup v1 only, and the tempting
    shortcut (binding all of /sys/fs/cgroup) damages the machine.
    """
    if (CGROUP_ROOT / "cgroup.controllers").exists():
        raise RuntimeError(
            "this machine uses the unified cgroup v2 hierarchy only; TestHost's recipe is for "
            "cgroup v1 (boot the VM with systemd.unified_cgroup_hierarchy=0)"
        )
    flags = ["--cgroupns=host", "--tmpfs", f"{CGROUP_ROOT}:rw,mode=755"]
    for entry in sorted(CGROUP_ROOT.iterdir()):
        if entry.name == "unified" or not entry.is_dir():
            continue
        # Symlinked names (e.g. cpu -> cpu,cpuacct) are bound from their target under their own name.
        flags += ["-v", f"{entry.resolve()}:{entry}:rw"]
    return flags


class TestHost:
    """One booted host. Use as a context manager (or ``start()`` / ``close()``).

    Attributes after ``start()``: ``container``, ``volume``, ``ssh_port``, ``index_port`` (host's
    port 8080 published on loopback), ``host_public_key`` (``ssh-ed25519 AAAA...``),
    ``private_key_path`` / ``public_key`` (the client key authorised for ``deploy``),
    ``ssh_config_path``, ``known_hosts_path``.
    """

    __test__ = False  # not a pytest test class despite the name

    user = "deploy"
    address = "127.0.0.1"

    def __init__(
        self,
        images: Images | None = None,
        *,
        suite: str = "bookworm",
        boot_timeout: float = 300.0,
        load_standins: bool = True,
    ) -> None:
        self.images = images
        self.suite = suite
        """The kind of host (images.HOST_ENGINES: its Debian release, whether Docker comes preinstalled)."""
        self.kind = HOST_ENGINES[suite]
        self.boot_timeout = boot_timeout
        self.load_standins = load_standins
        """Whether the host's engine gets the stand-in images (at its start: files/host/load-test-images)."""
        suffix = uuid.uuid4().hex[:10]
        self.container = f"pypi-test-host-{suite}-{suffix}"
        self.volume = f"pypi-test-host-{suite}-{suffix}-docker"
        self.ssh_port = 0
        self.index_port = 0
        self.host_public_key = ""
        self._tmp: Path | None = None
        self._started = False

    # ----------------------------------------------------------------------------------- life cycle
    def __enter__(self) -> TestHost:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    def start(self) -> TestHost:
        if self._started:
            return self
        self.images = self.images or ensure_images()
        t0 = time.monotonic()
        self._tmp = Path(tempfile.mkdtemp(prefix="pypi-test-host-"))
        self._started = True
        atexit.register(self.close)  # belt and braces if a test run is interrupted
        try:
            self._make_client_key()
            self.ssh_port, self.index_port = free_port(), free_port()
            while self.index_port == self.ssh_port:
                self.index_port = free_port()
            docker("volume", "create", "--label", f"{LABEL}={self.container}", self.volume)
            docker(
                "run",
                "--detach",
                "--name",
                self.container,
                "--hostname",
                "pypi-test-host",
                "--label",
                f"{LABEL}={self.container}",
                *_SECURITY_FLAGS,
                "--tmpfs",
                "/run",
                "--tmpfs",
                "/run/lock",
                *cgroup_mount_flags(),
                "--volume",
                f"{self.volume}:/var/lib/docker",
                "--publish",
                f"127.0.0.1:{self.ssh_port}:22",
                "--publish",
                f"127.0.0.1:{self.index_port}:8080",
                *self._image_mounts(),
                self.images.hosts[self.suite],
                *_INIT,
            )
            self._authorize_client_key()
            self._wait_systemd()
            self.host_public_key = self._read_host_key()
            self._write_ssh_files()
            self._wait_ssh_and_docker()
            figure(
                f"host {self.container}: booted in {time.monotonic() - t0:.1f} s "
                f"(ssh 127.0.0.1:{self.ssh_port}, index 127.0.0.1:{self.index_port}"
                f"{', images loaded' if self.load_standins and self.has_engine else ''})"
            )
        except BaseException:
            self._dump_diagnostics()
            self.close()
            raise
        return self

    def restart(self) -> None:
        """Stop (clean systemd shutdown) and start the same container; wait until ready again.

        The container's filesystem and the /var/lib/docker volume survive; ports and keys stay.
        """
        t0 = time.monotonic()
        docker("stop", "--time", "60", self.container, timeout=120)
        t1 = time.monotonic()
        docker("start", self.container)
        self._wait_systemd()
        key = self._read_host_key()
        if key != self.host_public_key:
            raise RuntimeError(f"host key changed across restart: {key!r} != {self.host_public_key!r}")
        self._wait_ssh_and_docker()
        figure(f"host {self.container}: restarted in {time.monotonic() - t0:.1f} s (stop {t1 - t0:.1f} s)")

    def close(self) -> None:
        """Remove the container and its volumes (immediate; no clean shutdown needed)."""
        if not self._started:
            return
        self._started = False
        docker("rm", "--force", "--volumes", self.container, check=False)
        docker("volume", "rm", "--force", self.volume, check=False)
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
        atexit.unregister(self.close)

    # ----------------------------------------------------------------------------------- access
    @property
    def docker_host(self) -> str:
        return f"ssh://{self.user}@{self.address}:{self.ssh_port}"

    @property
    def private_key_path(self) -> Path:
        return self._path("id_ed25519")

    @property
    def private_key(self) -> str:
        """OpenSSH private key text (e.g. for pulumi_command's ``ConnectionArgs.private_key``)."""
        return self.private_key_path.read_text()

    @property
    def public_key(self) -> str:
        return self._path("id_ed25519.pub").read_text().strip()

    @property
    def ssh_config_path(self) -> Path:
        return self._path("ssh_config")

    @property
    def known_hosts_path(self) -> Path:
        return self._path("known_hosts")

    def url(self, path: str = "/") -> str:
        """URL of the host's port 8080 as published on loopback."""
        return f"http://{self.address}:{self.index_port}{path}"

    def ssh(
        self, cmd: str | Sequence[str], stdin: Stdin = None, check: bool = True, timeout: float | None = 300
    ) -> subprocess.CompletedProcess[str]:
        """Run ``cmd`` as ``deploy`` over real SSH (pinned host key). A string goes to the remote
        shell as is; a sequence is shell-quoted first."""
        remote = cmd if isinstance(cmd, str) else shlex.join(cmd)
        return run(
            [
                "ssh",
                "-F",
                str(self.ssh_config_path),
                "-p",
                str(self.ssh_port),
                f"{self.user}@{self.address}",
                "--",
                remote,
            ],
            stdin=stdin,
            check=check,
            timeout=timeout,
        )

    def exec(
        self,
        cmd: str | Sequence[str],
        stdin: Stdin = None,
        check: bool = True,
        user: str | None = None,
        timeout: float | None = 300,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``cmd`` inside the host via ``docker exec`` (root unless ``user``): for assertions
        that must not depend on SSH. A string is run by ``sh -c``."""
        argv = ["sh", "-c", cmd] if isinstance(cmd, str) else list(cmd)
        flags = ["--interactive"] if stdin is not None else []
        if user:
            flags += ["--user", user]
        return docker("exec", *flags, self.container, *argv, stdin=stdin, check=check, timeout=timeout)

    def docker_env(self, base: dict[str, str] | None = None) -> dict[str, str]:
        """Environment in which the plain ``docker`` CLI talks to the host's inner engine over SSH.

        The CLI runs the system ``ssh`` without an identity file; our ``ssh`` wrapper (first on PATH)
        adds ``-F <our config>``, which names the key and the pinned known_hosts.
        """
        env = dict(os.environ if base is None else base)
        for var in ("DOCKER_CONTEXT", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH"):
            env.pop(var, None)
        env["DOCKER_HOST"] = self.docker_host
        env["PATH"] = f"{self._path('bin')}{os.pathsep}{env.get('PATH', os.defpath)}"
        return env

    def docker(
        self, *args: str, check: bool = True, stdin: Stdin = None, timeout: float | None = 300
    ) -> subprocess.CompletedProcess[str]:
        """``docker ARGS`` against the inner engine, through ``DOCKER_HOST=ssh://...``."""
        return run(["docker", *args], env=self.docker_env(), check=check, stdin=stdin, timeout=timeout)

    def load_images(self, *images: str) -> None:
        """Copy images from the local engine into the inner one (it has no registry to pull from)."""
        t0 = time.monotonic()
        tars = self.images.tars if self.images else {}
        for image in images:
            tar = tars.get(image)
            if tar is not None and tar.exists():
                with open(tar, "rb") as fh:
                    self.exec(["docker", "load", "--quiet"], stdin=fh, timeout=600)
            else:
                save = subprocess.Popen(["docker", "save", image], stdout=subprocess.PIPE)
                assert save.stdout is not None
                try:
                    self.exec(["docker", "load", "--quiet"], stdin=save.stdout, timeout=600)
                finally:
                    save.stdout.close()
                    if save.wait() != 0:
                        raise RuntimeError(f"`docker save {image}` failed")
        figure(
            f"host {self.container}: loaded {', '.join(images)} into the inner engine in {time.monotonic() - t0:.1f} s"
        )

    # ----------------------------------------------------------------------------------- internals
    def _image_mounts(self) -> list[str]:
        """The stand-ins' cached tars, read-only where the host's engine loads them as it starts."""
        if not self.load_standins or self.images is None:
            return []
        tars = [self.images.tars[image] for image in self.images.standins]
        return [f"--volume={tar}:/srv/test-images/{tar.name}:ro" for tar in tars]

    def _path(self, name: str) -> Path:
        if self._tmp is None:
            raise RuntimeError("TestHost not started")
        return self._tmp / name

    def _make_client_key(self) -> None:
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "pypi-test-client", "-f", str(self.private_key_path)])

    def _authorize_client_key(self) -> None:
        """The README's preparation of a new host (user `deploy`, its key, its sudo rule), run as root by
        bash exactly as written, in a folder holding the key as `deploy_key.pub`. Test scaffolding
        besides: where the engine is installed, `deploy` joins its group at once, so the tests' helpers
        can use it before any deploy (the program's bootstrap does the same on a host it prepares)."""
        self.prepare("new-host", {"deploy_key.pub": self.public_key})
        self.exec("getent group docker >/dev/null && usermod -aG docker deploy || true")

    def prepare(self, block: str, files: dict[str, str]) -> None:
        """Run the README's `readme-commands: BLOCK` lines as root in a fresh folder holding `files`."""
        from tests.support import readme_commands

        folder = "/root/readme-" + block
        self.exec(["install", "-d", "-m", "0700", folder])
        for name, text in files.items():
            self.exec(["sh", "-c", f"cat > {folder}/{name}"], stdin=text.strip() + "\n")
        found = readme_commands.blocks(block)
        if not found:
            raise RuntimeError(f"the README has no block marked readme-commands: {block}")
        for commands in found:
            for command in commands:
                outcome = readme_commands.record(
                    command, self.exec(["bash", "-c", f"cd {folder} && {command}"], check=False)
                )
                if not outcome.ok:
                    raise RuntimeError(
                        f"the README's {block} command failed on {self.container}: {command}\n{outcome.output}"
                    )

    def authorize(self, public_key: str) -> None:
        """Let another client key log in as `deploy` too (the same deploy key on several hosts)."""
        self.exec("cat >> ~deploy/.ssh/authorized_keys", stdin=public_key.strip() + "\n")

    def _wait_systemd(self) -> None:
        def probe() -> bool:
            state = self.exec(["systemctl", "is-system-running"], check=False).stdout.strip()
            if state in ("running", "degraded"):
                if state == "degraded":
                    failed = self.exec(["systemctl", "--failed", "--no-legend"], check=False).stdout
                    log(f"host {self.container}: systemd degraded; failed units:\n{failed}")
                return True
            return False

        wait_until("systemd to finish booting (is-system-running)", probe, self.boot_timeout, 0.5)

    def _read_host_key(self) -> str:
        """``ssh-ed25519 AAAA...`` of the host, read inside the container (trustworthy path)."""

        def probe() -> str:
            text = self.exec(["cat", "/etc/ssh/ssh_host_ed25519_key.pub"]).stdout.split()
            return " ".join(text[:2]) if len(text) >= 2 and text[0] == "ssh-ed25519" else ""

        return wait_until("the sshd host key", probe, 60, 0.5)

    def _write_ssh_files(self) -> None:
        self.known_hosts_path.write_text(f"[{self.address}]:{self.ssh_port} {self.host_public_key}\n")
        self.ssh_config_path.write_text(
            "# Generated by tests/host/machine.py: only this test host, only its pinned key.\n"
            f"Host {self.address}\n"
            f"  User {self.user}\n"
            f"  Port {self.ssh_port}\n"
            f"  IdentityFile {self.private_key_path}\n"
            "  IdentitiesOnly yes\n"
            "  IdentityAgent none\n"
            f"  UserKnownHostsFile {self.known_hosts_path}\n"
            "  GlobalKnownHostsFile /dev/null\n"
            "  StrictHostKeyChecking yes\n"
            "  HostKeyAlgorithms ssh-ed25519\n"
            "  PasswordAuthentication no\n"
            "  KbdInteractiveAuthentication no\n"
            "  BatchMode yes\n"
            "  ConnectTimeout 10\n"
            "  LogLevel ERROR\n"
        )
        real_ssh = shutil.which("ssh")
        if real_ssh is None:
            raise RuntimeError("the `ssh` client is not on PATH: apt-get install -y openssh-client")
        wrapper = self._path("bin") / "ssh"
        wrapper.parent.mkdir(exist_ok=True)
        wrapper.write_text(
            "#!/bin/sh\n"
            "# The docker CLI (DOCKER_HOST=ssh://...) runs `ssh` without an identity: add our config.\n"
            f'exec {shlex.quote(real_ssh)} -F {shlex.quote(str(self.ssh_config_path))} "$@"\n'
        )
        wrapper.chmod(0o755)

    @property
    def has_engine(self) -> bool:
        """Whether a Docker engine is installed (a host built without one gets it from the bootstrap)."""
        return self.exec("command -v dockerd", check=False).returncode == 0

    def _wait_ssh_and_docker(self) -> None:
        wait_until("ssh as deploy", lambda: self.ssh("true", check=False, timeout=30).returncode == 0, 60, 0.5)
        if not self.has_engine:
            return
        # `active` only once the engine answers and the drop-in has loaded the test images.
        wait_until(
            "the inner docker engine",
            lambda: self.exec(["systemctl", "is-active", "docker.service"], check=False).stdout.strip() == "active",
            300,
            1.0,
        )

    def _dump_diagnostics(self) -> None:
        """On a failed boot, show why (the container is removed right after)."""
        inside = ["docker", "exec", self.container]
        for what, cmd in (
            ("systemctl --failed", [*inside, "systemctl", "--failed", "--no-pager"]),
            ("journal (tail)", [*inside, "journalctl", "--no-pager", "-n", "80"]),
            ("docker logs", ["docker", "logs", "--tail", "50", self.container]),
        ):
            try:
                proc = run(cmd, check=False, timeout=30)
                log(f"host {self.container}: {what}:\n{proc.stdout}{proc.stderr}")
            except Exception as exc:
                log(f"host {self.container}: {what}: unavailable ({exc})")


def remove_all_test_hosts() -> None:
    """Remove every container/volume labelled as a test host (leftovers of killed runs)."""
    ids = docker("ps", "-aq", "--filter", f"label={LABEL}").stdout.split()
    if ids:
        docker("rm", "--force", "--volumes", *ids)
    vols = docker("volume", "ls", "-q", "--filter", f"label={LABEL}").stdout.split()
    if vols:
        docker("volume", "rm", "--force", *vols)
    log(f"removed {len(ids)} test host container(s), {len(vols)} volume(s)")


if __name__ == "__main__":
    remove_all_test_hosts()
