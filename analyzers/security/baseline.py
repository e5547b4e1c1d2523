"""The baseline: findings a team has looked at and accepted, in a file meant to be committed.

A JSON file beside the code it describes (version 2)::

    {"tool": "realworld", "version": 2,
     "findings": [{"hash": "…", "rule": "B105", "path": "app/settings.py",
                   "line": 12, "note": ""}]}

An entry matches a finding by ``hash`` (:func:`baseline_key`) within its ``path``; rule
and line are there for the person reviewing the file (the line is where the finding
was when it was accepted, not part of the match). The key is made from the matched
content (the secret, or the whitespace-normalised code line of a bandit finding), not
from the line number, so moving code does not churn the baseline, while an edited
secret is a new finding (detect-secrets misses those).

Unlike the fingerprints in the log (:mod:`analyzers.security.fingerprint`), the key is
not salted: a baseline must match on every machine and in CI, whoever's salt they
have. The price: for a short secret, a person holding the file can test guesses
against the key. That is acceptable for this file and only for it, because the file is
committed into the repository that holds the secret itself (as detect-secrets' own
baseline, whose ``hashed_secret`` is a bare SHA-1): whoever can read the baseline can
read the secret in the file beside it, and a secret removed from the code stays in
that repository's history anyway. Keys are compared inside the scan workers
(:mod:`analyzers.security.file_scan`), so they never reach the log, the projections
or the result cache, which leave the repository (a fleet database, a backup).

Version 1 files held salted fingerprints and the ``salt_id`` that made them: one is
still applied where that salt is (with a notice to rewrite it), and reported, not
applied, elsewhere; ``realworld findings --update-baseline FILE`` rewrites it as
version 2 where the salt is.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BASELINE_ENV = "REALWORLD_SECURITY_BASELINE"
DEFAULT_BASELINE_NAME = ".realworld-baseline.json"
VERSION = 2
SALTED_VERSION = 1  # entries are salted fingerprints; read, never written
KEY_HEX = 32
UPDATE_HINT = "rewrite it with `realworld findings --update-baseline FILE`"


def baseline_key(kind: str, rule: str, path: str, content: str, occurrence: int) -> str:
    """The unsalted key of a finding: SHA-256 over its kind (``bandit``/``secret``), rule,
    file, matched content and its occurrence among equal ones in the file."""
    # The same unambiguous encoding as the salted fingerprint; the rule and the path are
    # hashed in, so no table of common passwords' hashes applies to every baseline.
    message = json.dumps([kind, rule, path, content, occurrence], ensure_ascii=True,
                         separators=(",", ":")).encode("ascii")
    return hashlib.sha256(message).hexdigest()[:KEY_HEX]


@dataclass(frozen=True)
class BaselineEntry:
    key: str  # baseline_key (version 2); the salted fingerprint in a version-1 file
    rule: str = ""
    path: str = ""
    line: int = 0
    note: str = ""


@dataclass(frozen=True)
class Baseline:
    entries: tuple[BaselineEntry, ...] = field(default=(), compare=False)
    path: Path | None = None
    problem: str = ""  # why the file is not applied; empty when it is (or none exists)
    notice: str = ""  # applied, but something to tell (a version-1 file)
    version: int = VERSION
    #: A version-1 file's salted fingerprints, applied as they are (its salt is ours).
    salted: frozenset[str] = frozenset()
    by_path: Mapping[str, frozenset[str]] = field(default_factory=dict)

    @property
    def applied(self) -> int:
        """How many entries the scanner can match."""
        return len(self.salted) + sum(len(keys) for keys in self.by_path.values())

    def keys_for(self, path: str) -> frozenset[str]:
        return self.by_path.get(path, frozenset())


EMPTY = Baseline()


def baseline_path(root: Path, configured: str | os.PathLike[str] | None = None,
                  env: Mapping[str, str] | None = None) -> Path:
    """``configured``, else ``$REALWORLD_SECURITY_BASELINE``, else
    ``ROOT/.realworld-baseline.json``; a relative path is taken from ``root``."""
    env = os.environ if env is None else env
    chosen = configured if configured is not None else env.get(BASELINE_ENV) or None
    path = Path(chosen).expanduser() if chosen is not None else Path(DEFAULT_BASELINE_NAME)
    return path if path.is_absolute() else root / path


def load_baseline(path: Path, salt_id: str | None) -> Baseline:
    """The baseline at ``path``; a missing file is an empty baseline, a bad one is
    empty with a ``problem`` (a broken baseline must not hide findings).

    ``salt_id`` is the salt of the fingerprints a version-1 file is checked against
    (None: no salt here, so a version-1 file cannot be applied).
    """
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
    version = document.get("version", SALTED_VERSION) if isinstance(document, dict) else None
    if version not in (SALTED_VERSION, VERSION):
        return Baseline(path=path, problem=(
            f"{path} is a baseline of version {version!r}, this realworld reads "
            f"versions {SALTED_VERSION} and {VERSION}"))
    entries = _entries(document, "hash" if version == VERSION else "fingerprint")
    if entries is None:
        return Baseline(path=path, problem=f"{path} is not a realworld baseline")
    if version == VERSION:
        by_path: defaultdict[str, set[str]] = defaultdict(set)
        for entry in entries:
            by_path[entry.path].add(entry.key)
        return Baseline(entries, path, by_path={p: frozenset(k) for p, k in by_path.items()})
    recorded = document.get("salt_id")
    if recorded and recorded != salt_id:
        return Baseline(entries, path, version=SALTED_VERSION, problem=(
            f"{path} is a version-1 baseline of salted fingerprints made on another machine "
            f"(salt {recorded}), so it matches nothing here; {UPDATE_HINT} where it was made"))
    return Baseline(entries, path, version=SALTED_VERSION,
                    salted=frozenset(e.key for e in entries), notice=(
                        f"{path} is a version-1 baseline (salted fingerprints: it matches on "
                        f"this machine only); {UPDATE_HINT} to commit it"))


def _entries(document: Any, key_field: str) -> tuple[BaselineEntry, ...] | None:
    if not isinstance(document, dict) or not isinstance(document.get("findings"), list):
        return None
    entries = []
    for item in document["findings"]:
        if not isinstance(item, dict) or not isinstance(item.get(key_field), str):
            return None
        line = item.get("line")
        entries.append(BaselineEntry(
            key=item[key_field], rule=str(item.get("rule", "")),
            path=str(item.get("path", "")),
            line=line if isinstance(line, int) and not isinstance(line, bool) else 0,
            note=str(item.get("note", ""))))
    return tuple(entries)


def render_baseline(entries: Sequence[BaselineEntry]) -> str:
    """The file's text (version 2): sorted, so regenerating an unchanged baseline changes
    nothing."""
    ordered = sorted({(e.path, e.key): e for e in entries}.values(),
                     key=lambda e: (e.path, e.rule, e.line, e.key))
    document = {
        "tool": "realworld", "version": VERSION,
        "findings": [{"hash": e.key, "rule": e.rule, "path": e.path,
                      "line": e.line, "note": e.note} for e in ordered],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def write_baseline(path: Path, entries: Sequence[BaselineEntry]) -> None:
    """Replace the file atomically (a reader never sees half a baseline)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(render_baseline(entries), encoding="utf-8")
    os.replace(temporary, path)
