"""The canary: a new pypiserver image or new arguments tried beside the running index, as POSIX sh."""

from __future__ import annotations

import shlex


def canary_script(
    name: str,
    image: str,
    args: list[str],
    env: list[str],
    config_mounts: list[tuple[str, str]],
    scratch: str,
    memory_mb: int,
    health: list[str],
    timeout_seconds: int,
) -> str:
    """Start the new pypiserver beside the running one, as container `name` (one per index, so two
    stacks on one engine never remove each other's), and wait for it to answer healthy.

    It starts as the replacement will: the same image and entrypoint, arguments, environment, memory
    limit and security options, as root, so the image's entrypoint checks its folders and drops to its
    own user exactly as it will for the service. What it cannot do is reach the store or a client:
    - the package store is not mounted at all. `scratch` (the package folder) is a small tmpfs of its
      own, discarded with the container. The store cannot be lent read-only instead: the official
      entrypoint refuses to start unless its user can write the package folder (pypiserver
      docker/entrypoint.sh, `test -w /data/packages`, then exit 1 with "must have read/write/execute
      access to /data/packages"), whoever it runs as;
    - the configuration volumes (`config_mounts`: volume -> target; gunicorn's hooks, the htpasswd
      file) are mounted read-only, so the new release reads the configuration it will be given;
    - no network at all and no published port.
    On failure: its last log lines, and a non-zero exit that stops `pulumi up` before the running
    container is touched. The canary is always removed.
    """
    run = ["docker", "run", "--detach", "--name", name, "--network", "none"]
    run += ["--memory", f"{memory_mb}m", "--security-opt", "no-new-privileges:true"]
    run += ["--tmpfs", f"{scratch}:rw,nosuid,nodev,noexec,size=16m"]
    for volume, target in config_mounts:
        run += ["--mount", f"type=volume,source={volume},target={target},readonly"]
    for variable in env:
        run += ["--env", variable]
    run += [image, *args]
    probe = shlex.join(["docker", "exec", name, *health])
    return f"""set -eu
docker rm -f {name} >/dev/null 2>&1 || true
trap 'docker rm -f {name} >/dev/null 2>&1 || true' EXIT
{shlex.join(run)} >/dev/null
deadline=$(( $(date +%s) + {timeout_seconds} ))
until {probe} >/dev/null 2>&1; do
  if [ "$(docker inspect --format '{{{{.State.Running}}}}' {name} 2>/dev/null)" != true ] || [ "$(date +%s)" -ge "$deadline" ]; then
    echo "the new pypiserver ({image}) did not answer healthy within {timeout_seconds} s beside the running one," >&2
    echo "so nothing was replaced and the index keeps running as it was. The new one's last log lines:" >&2
    docker logs --tail 40 {name} >&2 || true
    exit 1
  fi
  sleep 1
done
echo "canary healthy: {image}"
"""
