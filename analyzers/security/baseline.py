"""The baseline: findings a team has looked at and accepted, by fingerprint.

A JSON file, meant to be committed beside the code it describes::

    {"tool": "realworld", "version": 1, "salt_id": "3f0c...",
     "findings": [{"fingerprint": "…", "rule": "B105", "path": "app/settings.py",
                   "line": 12, "note": ""}]}

Only ``fingerprint`` decides; rule, path and line are there for the person
reviewing the file. A fingerprint is made from the code or the secret itself,
not its line number, so moving code does not churn the baseline, while an
edited secret is a new finding (detect-secrets misses those). Fingerprints are
salted (:mod:`analyzers.security.fingerprint`): ``salt_id`` records which salt made
them, and a baseline made with another salt is reported and not applied.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BASELINE_ENV = "REALWORLD_SECURITY_BASELINE"
DEFAULT_BASELINE_NAME = ".realworld-baseline.json"
VERSION = 1


@dataclass(frozen=True)
class BaselineEntry:
    fingerprint: str
    rule: str = ""
    path: str = ""
    line: int = 0
    note: str = ""


@dataclass(frozen=True)
class Baseline:
    fingerprints: frozenset[str] = frozenset()
    path: Path | None = None
    problem: str = ""  # why a baseline file was not applied; empty when it was (or none exists)
    entries: tuple[BaselineEntry, ...] = field(default=(), compare=False)

    def __contains__(self, fingerprint: object) -> bool:
        return fingerprint in self.fingerprints


EMPTY = Baseline()


def baseline_path(root: Path, configured: str | os.PathLike[str] | None = None,
                  env: Mapping[str, str] | None = None) -> Path:
    """``configured``, else ``$REALWORLD_SECURITY_BASELINE``, else
    ``ROOT/.realworld-baseline.json``; a relative path is taken from ``root``."""
    env = os.environ if env is None else env
    chosen = configured if configured is not None else env.get(BASELINE_ENV) or None
    path = Path(chosen).expanduser() if chosen is not None else Path(DEFAULT_BASELINE_NAME)
    return path if path.is_absolute() else root / path


def load_baseline(path: Path, salt_id: str) -> Baseline:
    """The baseline at ``path``; a missing file is an empty baseline, a bad one is
    empty with a ``problem`` (a broken baseline must not hide findings)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Baseline(path=path)
    except (OSError, UnicodeDecodeError) as exc:
        return Baseline(path=path, problem=f"cannot read {path}: {type(exc).__name__}")
    try:
        document = json.loads(text)
    except ValueError:
        return Baseline(path=path, problem=f"{path} is not JSON")
    entries = _entries(document)
    if entries is None:
        return Baseline(path=path, problem=f"{path} is not a realworld baseline")
    recorded = document.get("salt_id")
    if recorded and recorded != salt_id:
        return Baseline(path=path, problem=(
            f"{path} was made with another fingerprint salt ({recorded}, ours is {salt_id}); "
            "share the salt file (REALWORLD_FINGERPRINT_SALT_FILE) or update the baseline"))
    return Baseline(frozenset(e.fingerprint for e in entries), path, "", entries)


def _entries(document: Any) -> tuple[BaselineEntry, ...] | None:
    if not isinstance(document, dict) or not isinstance(document.get("findings"), list):
        return None
    entries = []
    for item in document["findings"]:
        if not isinstance(item, dict) or not isinstance(item.get("fingerprint"), str):
            return None
        line = item.get("line")
        entries.append(BaselineEntry(
            fingerprint=item["fingerprint"], rule=str(item.get("rule", "")),
            path=str(item.get("path", "")),
            line=line if isinstance(line, int) and not isinstance(line, bool) else 0,
            note=str(item.get("note", ""))))
    return tuple(entries)


def render_baseline(entries: Sequence[BaselineEntry], salt_id: str) -> str:
    """The file's text: sorted, so regenerating an unchanged baseline changes nothing."""
    ordered = sorted({e.fingerprint: e for e in entries}.values(),
                     key=lambda e: (e.path, e.rule, e.fingerprint))
    document = {
        "tool": "realworld", "version": VERSION, "salt_id": salt_id,
        "findings": [{"fingerprint": e.fingerprint, "rule": e.rule, "path": e.path,
                      "line": e.line, "note": e.note} for e in ordered],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def write_baseline(path: Path, entries: Sequence[BaselineEntry], salt_id: str) -> None:
    """Replace the file atomically (a reader never sees half a baseline)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(render_baseline(entries, salt_id), encoding="utf-8")
    os.replace(temporary, path)
