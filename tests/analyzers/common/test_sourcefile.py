"""Reading one workspace file whole: bounded, never through a link, decoded as it says."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import pytest

from analyzers.common.sourcefile import FileStat, Skip, Source, decode_text, read_source, stat_file


def test_a_text_file_is_read_with_its_hash(tmp_path: Path) -> None:
    path = tmp_path / "a.py"
    path.write_bytes(b"x = 1\n")
    source = read_source(path, 100)
    assert isinstance(source, Source)
    assert source.data == b"x = 1\n" and source.size == 6
    assert source.content_hash == hashlib.sha256(b"x = 1\n").hexdigest()
    assert stat_file(path) == FileStat(6, source.mtime_ns)


def test_what_cannot_be_read_is_a_reason(tmp_path: Path) -> None:
    (tmp_path / "big.txt").write_bytes(b"x" * 101)
    (tmp_path / "blob").write_bytes(b"GIF89a\x00\x01")
    (tmp_path / "dir").mkdir()
    assert read_source(tmp_path / "big.txt", 100) == Skip("too_large", size=101)
    assert read_source(tmp_path / "blob", 100) == Skip("binary", size=8)
    assert read_source(tmp_path / "dir", 100) == Skip("directory")
    assert read_source(tmp_path / "absent", 100) == Skip("missing")
    assert read_source(tmp_path / "big.txt" / "below", 100) == Skip("missing")


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX links")
def test_a_link_is_never_followed(tmp_path: Path) -> None:
    (tmp_path / "target.py").write_text("x = 1\n")
    (tmp_path / "link.py").symlink_to(tmp_path / "target.py")
    assert read_source(tmp_path / "link.py", 100) == Skip("symlink")


def test_text_is_decoded_as_utf8_then_as_declared_then_as_latin1() -> None:
    assert decode_text("\ufeffcafé\n".encode()) == ("café\n", "utf-8")
    declared = "# -*- coding: cp1252 -*-\nx = '€'\n".encode("cp1252")
    assert decode_text(declared, python=True) == (declared.decode("cp1252"), "cp1252")
    assert decode_text(declared) == (declared.decode("latin-1"), "latin-1")
