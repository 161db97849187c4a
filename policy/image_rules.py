"""image-pinned: every image is a release tag, never a moving one, and where required its digest."""

from __future__ import annotations

from policy.program_facts import DIGEST, IMAGES, RELEASE_TAGS, image_key
from policy.subjects import CONTAINER, IMAGE, UNKNOWN, Subject, describe


def parse_image_ref(ref: str) -> tuple[str, str | None, str | None]:
    """`repo[:port]/path[:tag][@digest]` -> (repository, tag, digest)."""
    rest, _, digest = ref.partition("@")
    repository, tag = rest, None
    if ":" in rest.rsplit("/", 1)[-1]:
        repository, tag = rest.rsplit(":", 1)
    return repository, tag or None, digest or None


def _image_keys(name: str, repository: str) -> tuple[str, str, str]:
    """The config keys that choose this image, and a release to suggest (the program's default tag):
    known by the resource's name (pypi-front-image) or the repository's last part (caddy)."""
    for prefix, default in IMAGES:
        default_repository, default_tag = default.split(":")
        same_repository = repository.rsplit("/", 1)[-1] == default_repository.rsplit("/", 1)[-1]
        if not prefix or prefix in name or same_repository:
            return image_key(prefix, "Tag"), image_key(prefix, "Digest"), default_tag
    raise AssertionError("pypiserver's image, the last of IMAGES, has no prefix and matches any")


def _image_problems(label: str, name: str, ref: str, require_digest: bool) -> list[str]:
    repository, tag, digest = parse_image_ref(ref)
    tag_key, digest_key, example = _image_keys(name, repository)
    problems = []
    if tag is None:
        problems.append(
            f'{label} uses image "{ref}" without a tag (Docker pulls latest, which moves): '
            f"pin a release: pulumi config set {tag_key} {example}"
        )
    elif not any(release.match(tag) for release in RELEASE_TAGS):
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
    label = describe(resource_type, name)
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
