"""Writing the baseline: the findings a person accepts, keyed as the workers will match them.

The log holds only salted fingerprints, which say nothing about the baseline's unsalted
keys (:func:`~analyzers.security.baseline.baseline_key`). So accepting findings scans
their files again, here, as ``detect-secrets scan --baseline`` does, and keeps the
findings that are the accepted ones: the same rule, file and line as the row the person
saw. A version-1 baseline's salted fingerprints are carried over the same way, where
the salt that made them is at hand.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from analyzers.common.batch_paths import is_workspace_relative
from analyzers.common.sourcefile import Skip, read_source
from analyzers.security.baseline import SALTED_VERSION, Baseline, BaselineEntry
from analyzers.security.file_scan import FileScanner, FileTask, is_python
from analyzers.security.fingerprint import SALT_BYTES
from analyzers.security.scanner import DEFAULT_MAX_FILE_BYTES
from analyzers.security.workspace_config import read_bandit_settings


@dataclass(frozen=True)
class Wanted:
    """A finding a person accepts, as its row names it."""

    rule: str
    path: str
    line: int


@dataclass(frozen=True)
class Update:
    entries: tuple[BaselineEntry, ...]  # the whole new baseline
    added: int
    missing: int  # accepted rows not found in their files as they are now
    carried: int  # entries of a version-1 file rewritten as keys
    dropped: int  # entries of a version-1 file whose findings are gone


def accept(root: Path, wanted: Iterable[Wanted], previous: Baseline,
           salt: bytes | None = None) -> Update:
    """The baseline ``previous`` plus ``wanted``, every entry keyed (version 2).

    ``salt`` is the one a version-1 ``previous`` was made with (its entries are found by
    their salted fingerprints); without a version-1 file any salt does.
    """
    wanted = set(wanted)
    legacy = previous.salted if previous.version == SALTED_VERSION else frozenset()
    kept = {} if legacy else {(e.path, e.key): e for e in previous.entries}
    paths = {w.path for w in wanted} | {e.path for e in previous.entries if legacy}
    scanner = FileScanner(salt or secrets.token_bytes(SALT_BYTES),
                          read_bandit_settings(root).plugin_options)
    found: set[Wanted] = set()
    carried: dict[tuple[str, str], BaselineEntry] = {}
    fresh: dict[tuple[str, str], BaselineEntry] = {}
    for path in sorted(p for p in paths if is_workspace_relative(p)):
        source = read_source(root / path, DEFAULT_MAX_FILE_BYTES)
        if isinstance(source, Skip):
            continue
        task = FileTask(path, str(root / path), is_python(path, source.data[:256]),
                        DEFAULT_MAX_FILE_BYTES)
        for finding, key in scanner.keyed(task, source.data):
            entry = BaselineEntry(key, finding.rule, path, finding.line)
            row = Wanted(finding.rule, path, finding.line)
            if finding.fingerprint in legacy:
                carried[(path, key)] = entry
            if row in wanted:
                found.add(row)
                fresh[(path, key)] = entry
    added = sum(1 for place in fresh if place not in kept and place not in carried)
    # Where the same finding is there twice, the newer line wins: it is where it is now.
    merged = {**kept, **carried, **fresh}
    return Update(tuple(merged.values()), added, len(wanted - found), len(carried),
                  len(legacy) - len(carried))
