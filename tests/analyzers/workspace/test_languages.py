"""Which language a file is written in, by its name or its shebang."""

from __future__ import annotations

import pytest

from analyzers.workspace.languages import OTHER, language_of


@pytest.mark.parametrize(("path", "head", "language"), [
    ("a/b/main.py", b"", "Python"),
    ("types.pyi", b"", "Python"),
    ("App.TSX", b"", "TypeScript"),
    ("lib.rs", b"", "Rust"),
    ("x.h", b"", "C"),
    ("x.hpp", b"", "C++"),
    ("Makefile", b"", "Makefile"),
    ("docker/Dockerfile.prod", b"", "Dockerfile"),
    ("CMakeLists.txt", b"", "CMake"),
    ("notes.txt", b"", "Text"),
    (".bashrc", b"", OTHER),
    ("bin/tool", b"#!/usr/bin/env python3\n", "Python"),
    ("bin/tool", b"#!/usr/bin/env -S python3.12 -u\n", "Python"),
    ("bin/run", b"#!/bin/sh\n", "Shell"),
    ("bin/odd", b"#!/opt/weird\n", OTHER),
    ("data.unknownext", b"#!/bin/sh\n", "Shell"),
    ("data.unknownext", b"", OTHER),
])
def test_language_of(path: str, head: bytes, language: str) -> None:
    assert language_of(path, head) == language
