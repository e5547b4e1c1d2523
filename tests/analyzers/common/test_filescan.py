"""Reading one file for the census: streamed in chunks, lines and UTF-8 judged the same
whatever the chunk size."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analyzers.common.filescan import FileScan, Skipped, scan_file


def test_a_60_mb_text_file_is_streamed(tmp_path: Path) -> None:
    big = tmp_path / "big.txt"
    line = b"0123456789" * 9 + b"abcdefghi\n"  # 100 bytes
    with big.open("wb") as out:
        block = line * 10_000  # 1 MB
        for _ in range(60):
            out.write(block)
    tracemalloc.start()
    try:
        scan = scan_file(big)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert isinstance(scan, FileScan)
    assert scan.lines == 600_000 and scan.size == 60_000_000 and scan.utf8 and not scan.huge
    assert peak < 8 * 1024 * 1024  # a chunk or two, not the file


@settings(max_examples=60, deadline=None)
@given(content=st.binary(max_size=3000), chunk=st.integers(min_value=1, max_value=4096))
def test_line_count_does_not_depend_on_chunking(tmp_path_factory: pytest.TempPathFactory,
                                                content: bytes, chunk: int) -> None:
    path = tmp_path_factory.mktemp("chunks") / "f"
    path.write_bytes(content)
    scan = scan_file(path, chunk_bytes=chunk)
    assert isinstance(scan, FileScan)
    assert scan.size == len(content)
    if b"\x00" in content[:8192]:
        assert scan.binary and scan.lines is None
    else:
        expected = content.count(b"\n") + (1 if content and not content.endswith(b"\n") else 0)
        assert scan.lines == expected
        try:
            content.decode("utf-8")
            assert scan.utf8 is True
        except UnicodeDecodeError:
            assert scan.utf8 is False


def test_scan_file_reports_missing() -> None:
    assert scan_file("/nonexistent/for/sure") == Skipped("missing")
