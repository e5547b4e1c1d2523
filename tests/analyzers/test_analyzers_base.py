"""The analyzer protocol, its result, and the JSON guard in front of the log."""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from analyzers.base import (
    FULL_PASS,
    AnalysisResult,
    Analyzer,
    Finding,
    capability_label,
    is_full_pass,
    safe_text,
    to_json,
)
from analyzers.workspace.analyzer import WorkspaceAnalyzer
from daemon.log.hashchain import canonical_json


class Minimal:
    name = "minimal"
    activity_type = "minimal_check"

    def applies_to(self, path: str) -> bool:
        return path.endswith(".py")

    def analyze(self, root: Path, paths: Sequence[str]) -> AnalysisResult:
        return AnalysisResult(summary=f"{len(paths)} files", data={"paths": list(paths)})


def test_a_plain_class_satisfies_the_protocol() -> None:
    assert isinstance(Minimal(), Analyzer)
    assert isinstance(WorkspaceAnalyzer(), Analyzer)
    assert not isinstance(object(), Analyzer)


def test_result_is_frozen_with_empty_defaults() -> None:
    result = AnalysisResult(summary="7 insights")
    assert result.data == {} and result.findings == () and result.resolved == ()
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.summary = "changed"  # type: ignore[misc]


def test_result_carries_findings_for_later_events() -> None:
    finding = Finding(fingerprint="f" * 16, rule="B101", path="a.py", line=3, severity="low",
                      confidence="high", message="assert used", preview="assert x")
    result = AnalysisResult(summary="1 finding", findings=(finding,), resolved=("old",))
    assert result.findings[0].rule == "B101"
    assert result.resolved == ("old",)


def test_full_pass_is_the_empty_batch() -> None:
    assert is_full_pass(FULL_PASS)
    assert is_full_pass([])
    assert not is_full_pass(["a.py"])


@pytest.mark.parametrize(("name", "label"), [
    ("workspace_analyzer", "Workspace analysis"),
    ("security_scanner", "Security scan"),
    ("code_indexer", "Code indexing"),
    ("my_custom-probe", "My custom probe"),
    ("", ""),
])
def test_capability_labels_match_the_console_lines(name: str, label: str) -> None:
    assert capability_label(name) == label


def test_safe_text_escapes_lone_surrogates_only() -> None:
    assert safe_text("plain é ✓") == "plain é ✓"
    bad = b"caf\xe9.py".decode("utf-8", "surrogateescape")
    assert safe_text(bad) == "caf\\udce9.py"
    safe_text(bad).encode("utf-8")  # SQLite and terminals accept it now


def test_to_json_repairs_what_the_log_refuses() -> None:
    class Opaque:
        def __str__(self) -> str:
            return "opaque!"

    class Broken:
        def __str__(self) -> str:
            raise RuntimeError("no")

    value = to_json({
        "nan": math.nan, "inf": -math.inf, "ok": 1.5, "tuple": (1, 2), "set": {"b", "a"},
        1: "int key", "bytes": b"\xff\x00a", "path": Path("a/b.py"), "obj": Opaque(),
        "broken": Broken(), "nested": {"deep": [None, True]},
        "name": b"x\xff.py".decode("utf-8", "surrogateescape"),
    })
    assert isinstance(value, dict)
    assert value["nan"] is None and value["inf"] is None and value["ok"] == 1.5
    assert value["tuple"] == [1, 2] and value["set"] == ["a", "b"]
    assert value["1"] == "int key"
    assert value["path"] == "a/b.py" and value["obj"] == "opaque!"
    assert value["broken"] == "<unprintable Broken>"
    assert value["nested"] == {"deep": [None, True]}
    assert value["name"] == "x\\udcff.py"
    canonical_json(value)  # would raise on NaN or a non-JSON type


def test_to_json_stops_at_absurd_depth() -> None:
    deep: list[object] = []
    cursor = deep
    for _ in range(100):
        inner: list[object] = []
        cursor.append(inner)
        cursor = inner
    canonical_json(to_json(deep))


json_leaves = st.none() | st.booleans() | st.integers() | st.floats() | st.text() | st.binary()
anything = st.recursive(
    json_leaves,
    lambda children: st.lists(children, max_size=4) | st.tuples(children, children)
    | st.dictionaries(st.text() | st.integers(), children, max_size=4),
    max_leaves=20,
)


@given(anything)
def test_to_json_always_gives_canonical_json_and_is_idempotent(value: object) -> None:
    converted = to_json(value)
    text = canonical_json(converted)
    assert json.loads(text) == converted
    assert to_json(converted) == converted
