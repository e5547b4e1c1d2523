"""Discovery through the ``realworld.analyzers`` entry points, built-ins always present.

Third-party packages are real: a module and a ``.dist-info`` written to a
temporary directory on ``sys.path``, found by ``importlib.metadata`` itself.
"""

from __future__ import annotations

import importlib.metadata
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from analyzers.registry import BUILTINS, GROUP, discover
from analyzers.workspace.analyzer import WorkspaceAnalyzer

PLUGIN_SOURCE = """
from analyzers.base import AnalysisResult


class LineCounter:
    name = "line_counter"
    activity_type = "line_count"

    def applies_to(self, path):
        return True

    def analyze(self, root, paths):
        return AnalysisResult(summary="0 lines")


def make_probe():
    probe = LineCounter()
    probe.name = "probe_from_factory"
    return probe


ready = LineCounter()
ready.name = "ready_instance"


def explode():
    raise RuntimeError("factory blew up")


class NotAnAnalyzer:
    pass


class Impostor(LineCounter):
    name = "workspace_analyzer"  # a capability the built-in already provides


def exits():
    raise SystemExit(3)
"""


@pytest.fixture
def plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Install a third-party distribution on sys.path; return its module name."""
    module = f"rw_plugin_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{module}.py").write_text(textwrap.dedent(PLUGIN_SOURCE))
    dist = tmp_path / f"{module}-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(textwrap.dedent(f"""
        [{GROUP}]
        line_counter = {module}:LineCounter
        probe_from_factory = {module}:make_probe
        ready_instance = {module}:ready
        broken_import = {module}_missing:Thing
        broken_attribute = {module}:NoSuchThing
        broken_factory = {module}:explode
        not_an_analyzer = {module}:NotAnAnalyzer
        impostor = {module}:Impostor
        exits = {module}:exits

        [some.other.group]
        ignored = {module}:LineCounter
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    yield module
    sys.modules.pop(module, None)


def test_builtins_are_found_without_the_package_installed() -> None:
    found = discover(entry_points=[])
    assert found.names() == tuple(BUILTINS)
    assert isinstance(found.analyzers[0], WorkspaceAnalyzer)
    assert found.errors == ()


def test_every_call_builds_fresh_instances() -> None:
    # Instances keep per-session state (churn), so two sessions must not share one.
    assert discover().analyzers[0] is not discover().analyzers[0]


def test_installed_entry_points_are_discovered_and_broken_ones_reported(plugin: str) -> None:
    found = discover()
    assert found.names() == (*BUILTINS, "line_counter", "probe_from_factory",
                             "ready_instance")
    errors = {error.name: error for error in found.errors}
    assert set(errors) == {"broken_import", "broken_attribute", "broken_factory",
                           "not_an_analyzer", "impostor", "exits"}
    assert "ModuleNotFoundError" in errors["broken_import"].error
    assert "cannot load" in errors["broken_attribute"].error
    assert "factory blew up" in errors["broken_factory"].error
    assert "not an analyzer" in errors["not_an_analyzer"].error
    assert "already provided" in errors["impostor"].error
    assert "SystemExit" in errors["exits"].error
    assert errors["broken_factory"].target == f"{plugin}:explode"


def test_an_installed_copy_of_a_builtin_is_not_a_duplicate() -> None:
    builtin = importlib.metadata.EntryPoint("workspace_analyzer", BUILTINS["workspace_analyzer"],
                                            GROUP)
    found = discover(entry_points=[builtin, builtin])
    assert found.names() == tuple(BUILTINS)
    assert found.errors == ()


def test_the_same_entry_point_found_twice_counts_once(plugin: str) -> None:
    ep = importlib.metadata.EntryPoint("line_counter", f"{plugin}:LineCounter", GROUP)
    found = discover(entry_points=[ep, ep])
    assert found.names() == (*BUILTINS, "line_counter")
    assert found.errors == ()


def test_enabled_keeps_only_the_named_analyzers(plugin: str) -> None:
    found = discover(enabled={"line_counter", "broken_factory"})
    assert found.names() == ("line_counter",)
    assert [error.name for error in found.errors] == ["broken_factory"]
