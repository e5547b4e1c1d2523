"""Salted fingerprints of findings, and the salt they are made with.

A fingerprint names a finding in the log, the ``findings`` projection and the
baseline without holding anything that leads back to the secret: it is
HMAC-SHA-256 keyed with a salt of 32 random bytes over the finding's identity
(for a secret: the rule, the file and the secret itself), so a copy of the
database alone cannot be used to test guesses of a password against it.

Where the salt lives, and why there:

* ``$REALWORLD_FINGERPRINT_SALT_FILE`` if set, else
  ``$XDG_STATE_HOME/realworld/fingerprint.salt`` (``~/.local/state/...``): one salt
  per user, beside the default database but never inside it or the log, created
  on first use with mode 0600.
* Per user rather than per database because an analyzer does not know which
  database its findings go to, and because one salt per user keeps fingerprints the
  same across sessions, databases and restarts.
* A committed baseline does not depend on it: its entries are unsalted keys
  (:mod:`analyzers.security.baseline`), so a team or CI shares the baseline file and
  nothing else. (Version-1 baselines held these fingerprints and :func:`salt_id`.)
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Mapping
from pathlib import Path

from analyzers.common.private_files import create_private, make_private_dirs

SALT_ENV = "REALWORLD_FINGERPRINT_SALT_FILE"
SALT_BYTES = 32
FINGERPRINT_HEX = 32  # 128 bits: collisions are not a concern, and rows stay readable


class SaltError(Exception):
    """The salt file exists but cannot be used; one line for a person."""


def default_salt_path(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    explicit = env.get(SALT_ENV)
    if explicit:
        return Path(explicit).expanduser()
    base = env.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "realworld" / "fingerprint.salt"


def load_salt(path: Path | None = None, *, create: bool = True) -> bytes:
    """The salt in ``path`` (hex text), created atomically on first use."""
    path = default_salt_path() if path is None else path
    try:
        return _parse(path.read_text(encoding="ascii"), path)
    except FileNotFoundError:
        if not create:
            raise SaltError(f"no fingerprint salt at {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SaltError(f"cannot read fingerprint salt {path}: {exc}") from None
    make_private_dirs(path.parent)
    fresh = secrets.token_hex(SALT_BYTES)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = create_private(temporary)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as stream:
            stream.write(fresh + "\n")
            stream.flush()
            os.fsync(stream.fileno())
        # link() fails if another process created the salt meanwhile: then theirs wins,
        # so two sessions starting together never end up with two salts.
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
    return _parse(path.read_text(encoding="ascii"), path)


def _parse(text: str, path: Path) -> bytes:
    try:
        salt = bytes.fromhex(text.strip())
    except ValueError:
        raise SaltError(f"fingerprint salt {path} is not hex text") from None
    if len(salt) < 16:
        raise SaltError(f"fingerprint salt {path} is too short ({len(salt)} bytes)")
    return salt


def fingerprint(salt: bytes, *parts: str | int) -> str:
    """HMAC-SHA-256 of ``parts`` (encoded unambiguously), as hex."""
    # JSON escapes lone surrogates (file names that are not UTF-8), so any str encodes.
    message = json.dumps(list(parts), ensure_ascii=True, separators=(",", ":")).encode("ascii")
    return hmac.new(salt, message, hashlib.sha256).hexdigest()[:FINGERPRINT_HEX]


def salt_id(salt: bytes) -> str:
    """A name for the salt that reveals nothing about it (recorded in baselines)."""
    return hmac.new(salt, b"realworld fingerprint salt id", hashlib.sha256).hexdigest()[:16]
