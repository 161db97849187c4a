"""Where the package and pages volumes appear inside the indexer and the front server (which only
read the packages; the indexer writes the pages), and so where the Caddyfile finds files and pages.

Paths that exist in neither image. While a volume is empty, Docker copies the image's content at the
mount point, ownership included, into it when a container is created (moby daemon/create_unix.go,
populateVolume / container CopyImagePathContent; not when the path is missing from the image):
mounted where the image has a root-owned directory, it would take the package volume back from uid
9898 after pypiserver's entrypoint gave it to pypiserver. Docker's no_copy option would say the same,
but the provider refuses any volume_options below API 1.45 (Debian 12's and Ubuntu's engines),
whether or not a subpath is set (resource_docker_container_funcs.go, Create).
"""

# The front server serves /packages/<file> from this root: the package volume is mounted below it
# under that same name.
PACKAGES_ROOT = "/srv"
STORE_DIR = f"{PACKAGES_ROOT}/packages"
"""The package volume (read-only)."""
INDEX_DIR = "/srv/index"
"""The pages volume: the indexer writes it, the front server serves /simple/ from it."""
