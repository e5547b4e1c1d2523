"""Salted fingerprints of security findings, and the salt they are made with."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from analyzers.security.fingerprint import (
    SaltError,
    default_salt_path,
    fingerprint,
    load_salt,
    salt_id,
)


def test_fingerprints_are_keyed_by_the_salt() -> None:
    assert fingerprint(b"a" * 32, "secret", "x") == fingerprint(b"a" * 32, "secret", "x")
    assert fingerprint(b"a" * 32, "secret", "x") != fingerprint(b"b" * 32, "secret", "x")
    assert fingerprint(b"a" * 32, "ab", "c") != fingerprint(b"a" * 32, "a", "bc")
    assert len(fingerprint(b"a" * 32, "bad-\udcff")) == 32


def test_salt_is_created_once_private_and_reused(tmp_path: Path) -> None:
    path = default_salt_path({"XDG_STATE_HOME": str(tmp_path)})
    assert path == tmp_path / "realworld" / "fingerprint.salt"
    previous = os.umask(0o022)
    try:
        salt = load_salt(path)
    finally:
        os.umask(previous)
    assert len(salt) == 32
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700  # made here: ours alone
    assert load_salt(path) == salt
    assert default_salt_path({"REALWORLD_FINGERPRINT_SALT_FILE": str(tmp_path / "team.salt")}) \
        == tmp_path / "team.salt"
    (tmp_path / "bad.salt").write_text("not hex")
    with pytest.raises(SaltError):
        load_salt(tmp_path / "bad.salt")
    with pytest.raises(SaltError):
        load_salt(tmp_path / "absent.salt", create=False)


def test_salt_id_reveals_nothing_usable() -> None:
    assert len(salt_id(b"a" * 32)) == 16
    assert salt_id(b"a" * 32) != salt_id(b"b" * 32)
