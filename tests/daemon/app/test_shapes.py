"""The TypedDicts of the Python API describe exactly what a real tester returns."""

from __future__ import annotations

from pathlib import Path
from typing import Any, get_type_hints, is_typeddict

import pytest

from analyzers.workspace.analyzer import WorkspaceAnalyzer
from daemon import RealWorldTester
from daemon.app.shapes import Analysis, Metrics, Monitor


def conforms(value: Any, shape: Any, where: str) -> list[str]:
    """Where ``value`` has other keys than the TypedDict ``shape`` (nested ones too), or a
    value of another type at a plain-typed key."""
    hints = get_type_hints(shape)
    if set(value) != set(hints):
        return [f"{where}: keys {sorted(value)} != {sorted(hints)}"]
    wrong = []
    for key, hint in hints.items():
        item = value[key]
        if is_typeddict(hint):
            wrong += conforms(item, hint, f"{where}.{key}")
        elif getattr(hint, "__origin__", None) is dict and is_typeddict(hint.__args__[1]):
            for name, entry in item.items():
                wrong += conforms(entry, hint.__args__[1], f"{where}.{key}[{name!r}]")
        elif hint in (int, str) and not isinstance(item, hint):
            wrong.append(f"{where}.{key}: {item!r} is not {hint.__name__}")
        elif hint is float and not isinstance(item, (int, float)):
            wrong.append(f"{where}.{key}: {item!r} is not a number")
    return wrong


@pytest.fixture
def tester(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.delenv("REALWORLD_TESTING_DB", raising=False)
    t = RealWorldTester(db_path=tmp_path / "t.db", settle_seconds=0.05,
                        analyzers=lambda: [WorkspaceAnalyzer()])
    t.resource_limits.update(cpu_percent_max=100.0, memory_percent_max=100.0,
                             disk_percent_max=100.0)
    yield t
    t.close()


def test_monitor_and_metrics_have_their_declared_shapes(tester: RealWorldTester,
                                                        tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "main.py").write_text("def main():\n    return 1\n")
    session_id = tester.start_test_session(project, mode="once")
    tester.wait(session_id, timeout=30)
    monitor, metrics = tester.monitor_activities(), tester.collect_metrics()
    assert monitor["activities_by_capability"] and metrics["capabilities"]  # not vacuous
    assert conforms(monitor, Monitor, "monitor") == []
    assert conforms(metrics, Metrics, "metrics") == []
    analysis = tester.analyze_session_results(session_id)
    assert analysis["activities_by_capability"]  # not vacuous
    assert conforms(analysis, Analysis, "analysis") == []
