"""The spec's "Console Report": activity lines and the periodic update block, exactly."""

from __future__ import annotations

from datetime import datetime

from hypothesis import given
from hypothesis import strategies as st

from daemon.read.render.console import (
    RULE,
    CapabilityCount,
    UpdateView,
    activity_line,
    update_block,
    update_count,
)

# Copied from the spec's "Console Report" section.
SPEC_ACTIVITY_LINES = """\
[Test-test_20260203_121500] Workspace analysis: 245ms, 7 insights
[Test-test_20260203_121500] Code assistance: 189ms, 3 capabilities
[Test-test_20260203_121500] Security scan: 2345ms, 2 vulnerabilities
[Test-test_20260203_121500] Code indexing: 567ms, 15 files
[Test-test_20260203_121500] Error recovery: 89ms"""

SPEC_UPDATE_BLOCK = """\
[Update 1/10] 18:15:30
--------------------------------------------------------------------------------
  Session: test_20260203_121500
  Running: 0:00:30 / Remaining: 0:04:30
  Activities: 5 total, 0 errors
  System: CPU 25.3%, Memory 42.1%
  Active Capabilities (3):
    • workspace_analyzer: 1 calls, 100.0% success
    • code_assistant: 1 calls, 100.0% success
    • security_scanner: 1 calls, 100.0% success
--------------------------------------------------------------------------------"""

SESSION = "test_20260203_121500"


def spec_view(**changes: object) -> UpdateView:
    values: dict[str, object] = {
        "number": 1, "total": 10, "clock": datetime(2026, 2, 3, 18, 15, 30),
        "session_id": SESSION, "elapsed_s": 30.0, "remaining_s": 270.0, "activities": 5,
        "errors": 0, "cpu_percent": 25.3, "memory_percent": 42.1,
        "capabilities": {
            "workspace_analyzer": CapabilityCount(1, 1),
            "code_assistant": CapabilityCount(1, 1),
            "security_scanner": CapabilityCount(1, 1),
        },
    }
    values.update(changes)
    return UpdateView(**values)  # type: ignore[arg-type]


def test_activity_lines_match_the_spec() -> None:
    descriptions = ["Workspace analysis: 245ms, 7 insights",
                    "Code assistance: 189ms, 3 capabilities",
                    "Security scan: 2345ms, 2 vulnerabilities",
                    "Code indexing: 567ms, 15 files", "Error recovery: 89ms"]
    lines = [activity_line(SESSION, d) for d in descriptions]
    assert "\n".join(lines) == SPEC_ACTIVITY_LINES


def test_update_block_matches_the_spec_character_for_character() -> None:
    assert update_block(spec_view()) == SPEC_UPDATE_BLOCK


def test_rules_are_80_dashes_and_bullets_are_indented() -> None:
    lines = update_block(spec_view()).splitlines()
    assert RULE == "-" * 80
    assert lines[1] == lines[-1] == "-" * 80
    bullets = [line for line in lines if "•" in line]
    assert len(bullets) == 3
    assert all(line.startswith("    • ") for line in bullets)


def test_capabilities_keep_their_order_and_show_failures() -> None:
    view = spec_view(capabilities={"security_scanner": CapabilityCount(4, 3),
                                   "code_search": CapabilityCount(3, 0)}, errors=4)
    lines = update_block(view).splitlines()
    assert "  Activities: 5 total, 4 errors" in lines
    assert "  Active Capabilities (2):" in lines
    assert lines[-3:-1] == ["    • security_scanner: 4 calls, 75.0% success",
                            "    • code_search: 3 calls, 0.0% success"]


def test_no_capabilities_yet() -> None:
    lines = update_block(spec_view(capabilities={}, activities=0)).splitlines()
    assert lines[-2:] == ["  Active Capabilities (0):", RULE]
    assert CapabilityCount(0, 0).success_rate == 0.0


def test_a_session_without_an_end() -> None:
    view = spec_view(number=7, total=None, remaining_s=None, elapsed_s=3725.0)
    lines = update_block(view).splitlines()
    assert lines[0] == "[Update 7] 18:15:30"
    assert lines[3] == "  Running: 1:02:05 / Remaining: no end"


def test_numbers_are_rounded_like_the_spec() -> None:
    view = spec_view(cpu_percent=3.14159, memory_percent=99.96, elapsed_s=29.6,
                     remaining_s=270.4)
    text = update_block(view)
    assert "  System: CPU 3.1%, Memory 100.0%" in text
    assert "  Running: 0:00:30 / Remaining: 0:04:30" in text


def test_update_count_is_the_updates_a_timed_session_prints() -> None:
    assert update_count(300, 30) == 10  # the spec's [Update 1/10] for 5 minutes
    assert update_count(25, 10) == 2  # updates at 10 s and 20 s; the session ends at 25
    assert update_count(0.3, 0.1) == 3  # not 2 (0.3 / 0.1 < 3 in floating point)
    assert update_count(5, 10) == 0
    assert update_count(0, 10) == 0


@given(st.integers(min_value=1, max_value=10_000), st.integers(min_value=1, max_value=10_000))
def test_update_count_fits_the_interval_into_the_duration(duration_ds: int,
                                                          interval_ds: int) -> None:
    # Tenths of seconds: durations people type, without float rounding in the oracle.
    count = update_count(duration_ds / 10, interval_ds / 10)
    assert count * interval_ds <= duration_ds < (count + 1) * interval_ds
