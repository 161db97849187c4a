"""Which SSH host keys can be pinned, checked as the keys they claim to be.

Both SSH paths offer the server only the pinned key's own algorithm: pulumi-command sets the
client's HostKeyAlgorithms to the parsed key's type (pulumi/pulumi-command, provider/pkg/provider/
remote/connection.go, `Connection.SShConfig`), and the Docker provider's OpenSSH client reads the
one pinned line through KnownHostsCommand. For an RSA key that algorithm is `ssh-rsa`, a SHA-1
signature which OpenSSH 8.8 and newer servers no longer offer for host keys: the deploy could never
connect. So RSA (and anything else that cannot work) is refused here, and every accepted key is
checked by its structure, not its prefix: a typo or a placeholder fails at preview, not at the host.
"""

from __future__ import annotations

import base64
import binascii
import struct

ED25519 = "ssh-ed25519"
# name -> (curve name inside the blob, field prime p, curve constant b, coordinate size in bytes).
# NIST P-256/384/521 (FIPS 186-4, D.1.2): y^2 = x^3 - 3x + b (mod p).
ECDSA_CURVES = {
    "ecdsa-sha2-nistp256": (
        "nistp256",
        2**256 - 2**224 + 2**192 + 2**96 - 1,
        0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B,
        32,
    ),
    "ecdsa-sha2-nistp384": (
        "nistp384",
        2**384 - 2**128 - 2**96 + 2**32 - 1,
        0xB3312FA7E23EE7E4988E056BE3F82D19181D9C6EFE8141120314088F5013875AC656398D8A2ED19D2A85C8EDD3EC2AEF,
        48,
    ),
    "ecdsa-sha2-nistp521": (
        "nistp521",
        2**521 - 1,
        0x0051953EB9618E1C9A1F929A21A0B68540EEA2DA725B99B315F3B8B489918EF109E156193951EC7E937B1652C0BD3BB1BF073573DF883D2C34F1EF451FD46B503F00,
        66,
    ),
}
ACCEPTED = (ED25519, *ECDSA_CURVES)
PIN_INSTEAD = "pin the host's ed25519 key instead: the text of /etc/ssh/ssh_host_ed25519_key.pub on the host"


class HostKeyError(ValueError):
    """Why a host key cannot be pinned; the message says what to pin instead."""


def _strings(blob: bytes) -> list[bytes]:
    """The SSH wire format's length-prefixed strings (RFC 4251, 5); anything left over is an error."""
    parts, at = [], 0
    while at < len(blob):
        if at + 4 > len(blob):
            raise HostKeyError("its key data is cut short")
        (length,) = struct.unpack(">I", blob[at : at + 4])
        at += 4
        if at + length > len(blob):
            raise HostKeyError("its key data is cut short")
        parts.append(blob[at : at + length])
        at += length
    return parts


def _check_ecdsa(key_type: str, parts: list[bytes]) -> None:
    curve, p, b, size = ECDSA_CURVES[key_type]
    if len(parts) != 3 or parts[1] != curve.encode():
        raise HostKeyError(f"it is not an {key_type} key (expected the curve name {curve} and one point)")
    point = parts[2]
    if len(point) != 1 + 2 * size or point[0] != 4:
        raise HostKeyError(f"its point is not an uncompressed {curve} point of {1 + 2 * size} bytes")
    x, y = int.from_bytes(point[1 : 1 + size], "big"), int.from_bytes(point[1 + size :], "big")
    if x >= p or y >= p or (y * y - (x * x * x - 3 * x + b)) % p:
        raise HostKeyError(f"its point is not on the curve {curve}")


def check_host_key(text: str, allow_rsa: bool = False) -> str:
    """`TYPE BASE64` (a trailing comment is dropped), or HostKeyError saying why it cannot be pinned.

    `allow_rsa`: for a key only OpenSSH verifies (it negotiates rsa-sha2 signatures itself).
    """
    words = text.split()
    if len(words) < 2:
        raise HostKeyError(f"expected a public key line 'TYPE BASE64'; {PIN_INSTEAD}")
    key_type, data = words[0], words[1]
    if key_type == "ssh-rsa" and allow_rsa:
        try:
            parts = _strings(base64.b64decode(data, validate=True))
        except (binascii.Error, ValueError, HostKeyError):
            raise HostKeyError(f"its key data is not an ssh-rsa key; {PIN_INSTEAD}") from None
        if len(parts) != 3 or parts[0] != b"ssh-rsa" or len(parts[2]) < 256:
            raise HostKeyError(f"it is not an ssh-rsa key of at least 2048 bits; {PIN_INSTEAD}")
        return f"{key_type} {data}"
    if key_type == "ssh-rsa":
        raise HostKeyError(
            "RSA host keys cannot be pinned: pulumi-command would offer only the SHA-1 ssh-rsa signature, "
            f"which OpenSSH 8.8 and newer servers refuse; {PIN_INSTEAD} (or its ecdsa key)"
        )
    if key_type not in ACCEPTED:
        raise HostKeyError(f"key type {key_type!r} is not one of {', '.join(ACCEPTED)}; {PIN_INSTEAD}")
    try:
        blob = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise HostKeyError(f"its key data is not base64; {PIN_INSTEAD}") from None
    try:
        parts = _strings(blob)
        if not parts or parts[0] != key_type.encode():
            raise HostKeyError(f"its key data is not an {key_type} key")
        if key_type == ED25519:
            if len(parts) != 2 or len(parts[1]) != 32:
                raise HostKeyError("its key data is not an ed25519 key (expected one 32-byte public key)")
        else:
            _check_ecdsa(key_type, parts)
    except HostKeyError as error:
        raise HostKeyError(f"{error}; {PIN_INSTEAD}") from None
    return f"{key_type} {data}"
