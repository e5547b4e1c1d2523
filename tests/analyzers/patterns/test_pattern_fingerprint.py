"""The fingerprint of a pattern_probe finding: stable, and the same as the log already holds."""

from __future__ import annotations

from analyzers.patterns.fingerprint import finding_fingerprint


def test_fingerprint_hashes_paths_that_are_not_utf8() -> None:
    first = finding_fingerprint("complexity", "bad-\udcff.py", "f")
    assert first == finding_fingerprint("complexity", "bad-\udcff.py", "f")
    assert len(first) == 32


def test_fingerprints_are_the_ones_already_in_the_log() -> None:
    # Ids the logs of earlier versions hold: another value would resolve every open finding
    # and report it again under a new id.
    assert finding_fingerprint("complexity", "app/models.py", "Widget.render") == (
        "a2e81462a365b7d4770a4098c992a3f7")
    assert finding_fingerprint("learned:eq_none", "a.py", "<module>", 1) == (
        "50e1564b45e95d9d7aa24e45a5ba189a")
