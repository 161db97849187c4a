"""Files into Docker volumes, written from a step's stdin in a throw-away container (shared by the
parts that hand configuration or programs to a container through a volume). Pure functions: each
returns the POSIX sh a step runs.
"""

from __future__ import annotations

import shlex


def write_volume_file(volume: str, mount: str, relative: str, image: str, owner: int, then: str = "") -> str:
    """Write stdin into `volume` (mounted at `mount`) as `relative`, atomically, mode 0600, owned by `owner`.

    It runs in a throw-away container of an image the deployment already has (nothing else to pull),
    as root so it can hand the file to the service's uid. The rename makes the service see a complete
    file with a new mtime: pypiserver re-reads its htpasswd on the next request. `then` runs after
    the file is in place (e.g. a reload).
    """
    target = shlex.quote(f"{mount}/{relative}")
    inner = (
        "set -eu; umask 077; "
        f'mkdir -p "$(dirname {target})"; '
        f"cat > {target}.new; "
        f"chown {owner}:{owner} {target}.new; "
        f"mv -f {target}.new {target}"
    )
    return _in_volume(volume, mount, image, inner) + then


def write_volume_folder(volume: str, mount: str, name: str, image: str, keep: int) -> str:
    """Unpack stdin (a tar archive in base64) into `volume` as the folder `name`, once.

    The folder appears whole (unpacked beside it, then renamed) and is never rewritten: its name is
    the hash of its content. It belongs to root and every user may read it (0755, files 0644): the
    programs are no secret, the indexer is root without any capability (so without the right to
    read another user's private files), and pypiserver's user must not be able to change the code
    it runs. Of the folders named like it (hex), the newest `keep` stay; earlier releases' single
    gunicorn.conf.py counts as one of them.
    """
    folder = shlex.quote(name)
    inner = (
        f"set -eu; umask 022; cd {shlex.quote(mount)}; "
        "base64 -d > .incoming.tar; "
        f"if [ ! -d {folder} ]; then "
        f"rm -rf {folder}.new; mkdir {folder}.new; tar -x -f .incoming.tar -C {folder}.new; "
        f"mv {folder}.new {folder}; fi; "
        f"rm -f .incoming.tar; chown -R 0:0 {folder}; chmod -R u=rwX,go=rX {folder}; touch {folder}; "
        f"ls -1t | grep -E '^([0-9a-f]{{16}}|gunicorn[.]conf[.]py)$' | tail -n +{keep + 1} | xargs -r rm -rf"
    )
    return _in_volume(volume, mount, image, inner)


def _in_volume(volume: str, mount: str, image: str, inner: str) -> str:
    """Run `inner` (sh, reading the step's stdin) as root in a throw-away container of `image` with
    `volume` mounted at `mount` and no network."""
    return (
        "set -eu\n"
        "docker run --rm -i --network none --user 0:0 --entrypoint /bin/sh \\\n"
        f"  --mount type=volume,source={shlex.quote(volume)},target={shlex.quote(mount)} \\\n"
        f"  {shlex.quote(image)} -c {shlex.quote(inner)}\n"
    )
