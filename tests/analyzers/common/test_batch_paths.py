"""The paths a batch may name: relative to the workspace and inside it, nothing else."""

from __future__ import annotations

import pytest

from analyzers.common.batch_paths import is_workspace_relative


@pytest.mark.parametrize("path", ["a.py", "pkg/mod.py", "./a.py", "a..b.py", ".hidden/x"])
def test_relative_paths_inside_the_workspace(path: str) -> None:
    assert is_workspace_relative(path)


@pytest.mark.parametrize("path", ["", "/etc/passwd", "../up.py", "pkg/../../up.py", "a\x00.py"])
def test_anything_else_is_refused(path: str) -> None:
    assert not is_workspace_relative(path)
