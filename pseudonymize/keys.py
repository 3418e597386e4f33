"""Key material: loading the master key, key ids, and per-pool keys derived with HKDF.

The master key is read from a key file (which must not be readable by group or others) or from an
environment variable, as hex. Keys are wrapped in :class:`SecretKey`, whose ``repr`` and ``str``
show only the key id, so a key cannot reach a log line or an error message by accident. This is
the one module that unwraps a key's bytes: to derive keys, and to pad it for the HMAC.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import stat
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from pseudonymize.errors import KeyMaterialError

MIN_KEY_BYTES = 32
_KEY_ID_INFO = b"pooling/key-id/v1"
_BLOCK = 64  # SHA-256 block size in bytes


def _hkdf(material: bytes, info: bytes, length: int) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=info).derive(material)


class SecretKey:
    """Key bytes plus a public key id. Never printed, never pickled into a plan."""

    __slots__ = ("_material", "key_id", "purpose")

    def __init__(self, material: bytes, purpose: str) -> None:
        if len(material) < MIN_KEY_BYTES:
            raise KeyMaterialError(
                f"{purpose}: key is {len(material)} bytes; at least {MIN_KEY_BYTES} random bytes "
                "are required (generate one with `pooling keys new`)"
            )
        self._material = bytes(material)
        self.purpose = purpose
        # A fingerprint: an HKDF output under the key itself. It identifies the key in table
        # properties and audit rows; without the key it reveals nothing usable about it.
        self.key_id = "k1-" + _hkdf(self._material, _KEY_ID_INFO, 8).hex()

    @property
    def material(self) -> bytes:
        return self._material

    def __repr__(self) -> str:
        return f"SecretKey(purpose={self.purpose!r}, key_id={self.key_id!r})"

    __str__ = __repr__

    def __reduce__(self):  # refuse to be pickled (e.g. captured by a Python UDF closure)
        raise TypeError("SecretKey cannot be pickled; pass it to pseudonymize.hmac_sha256 instead")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SecretKey) and secrets.compare_digest(
            self._material, other._material
        )

    def __hash__(self) -> int:
        return hash(self.key_id)


def padded_keys(key: SecretKey | bytes) -> tuple[bytes, bytes]:
    """The inner and outer padded keys of RFC 2104 for SHA-256."""
    if isinstance(key, SecretKey):
        key = key.material
    if not isinstance(key, bytes | bytearray):
        raise TypeError(f"an HMAC key must be bytes, not {type(key).__name__}")
    if len(key) > _BLOCK:
        key = hashlib.sha256(key).digest()
    key = bytes(key).ljust(_BLOCK, b"\0")
    return bytes(b ^ 0x36 for b in key), bytes(b ^ 0x5C for b in key)


def pool_key_info(project: str, version: int) -> bytes:
    return f"pooling/pool-key/{project}/v{version}".encode()


def derive_pool_key(master: SecretKey, project: str, version: int) -> SecretKey:
    """The key of one project's pool: HKDF-SHA256(master, info = project and key version).

    Pseudonyms under different pool keys cannot be linked without the master key; bumping
    ``version`` rotates the pool key without touching raw citizen IDs.
    """
    if version < 1:
        raise KeyMaterialError(f"pool key version must be >= 1, got {version}")
    return SecretKey(
        _hkdf(master.material, pool_key_info(project, version), 32), f"pool:{project}:v{version}"
    )


def derive_record_key(master: SecretKey, agency: str, dataset: str) -> SecretKey:
    """The key that pseudonymises one dataset's record keys (e.g. a visit number) for upserts.

    One key per dataset: a record key cannot be linked across datasets, nor to a pool.
    """
    info = f"pooling/record-key/{agency}/{dataset}".encode()
    return SecretKey(_hkdf(master.material, info, 32), f"record:{agency}.{dataset}")


def _parse_hex(text: str, source: str) -> bytes:
    text = text.strip()
    try:
        material = bytes.fromhex(text)
    except ValueError:
        raise KeyMaterialError(
            f"{source}: the key must be hex digits (as written by `pooling keys new`)"
        ) from None
    return material


def load_key_file(path: Path, purpose: str = "master") -> SecretKey:
    path = Path(path)
    try:
        st = path.stat()
    except FileNotFoundError:
        raise KeyMaterialError(
            f"key file {path} does not exist (create one with `pooling keys new --out {path}`)"
        ) from None
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyMaterialError(
            f"key file {path} is accessible by group or others "
            f"(mode {stat.S_IMODE(st.st_mode):o}); "
            f"run `chmod 600 {path}`"
        )
    source = f"key file {path}"
    return SecretKey(_parse_hex(path.read_text(encoding="ascii"), source), f"{purpose} ({source})")


def load_master_key(file: Path | str | None, env: str = "POOLING_MASTER_KEY") -> SecretKey:
    """The master key from ``env`` if set, else from ``file``.

    Errors name the source, never the key.
    """
    value = os.environ.get(env)
    if value:
        source = f"environment variable {env}"
        return SecretKey(_parse_hex(value, source), f"master key from {source}")
    if file is None:
        raise KeyMaterialError(f"no master key: set {env} or configure a key file in the profile")
    return load_key_file(Path(file))


def new_key_file(path: Path | str, nbytes: int = 32) -> SecretKey:
    """Write a fresh random key to ``path`` (mode 0600, never overwriting) and return it."""
    if nbytes < MIN_KEY_BYTES:
        raise KeyMaterialError(
            f"refusing to create a {nbytes}-byte key; the minimum is {MIN_KEY_BYTES}"
        )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    material = secrets.token_bytes(nbytes)
    # O_EXCL: never clobber an existing key; 0o600 from the first byte written.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise KeyMaterialError(
            f"key file {path} already exists; refusing to overwrite it"
        ) from None
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(material.hex() + "\n")
    return SecretKey(material, "master")
