"""Which findings configuration hides, and why: one answer per finding, pure.

Findings are always computed in full and hidden afterwards, so each hidden one is
counted under the skip that hid it (nothing is dropped without a trace), and a
change of configuration shows or hides findings without scanning again.

In order, the first that applies decides:

1. the workspace's bandit config: a bandit rule its ``tests``/``skips`` leave out, or
   any bandit rule in a file under its ``exclude_dirs``, matched as ``bandit -r .`` run
   at the root matches them (an fnmatch glob, or a substring, of ``./<path>``);
2. our per-path skips (``[security.per_path_skips]``): gitignore-style patterns
   (pathspec) -> rule ids;
3. the default per-path skips, :data:`DEFAULT_PER_PATH_SKIPS` (``assert`` in tests is how
   tests work), used only when neither the workspace's bandit config nor ours says
   anything: a configured bandit is followed as configured;
4. a secret that the detect-secrets baseline records (found in the worker, which alone
   holds the value; see :mod:`analyzers.security.file_scan`).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pathspec

from analyzers.security.workspace_config import BanditSettings

SOURCE_BANDIT = "workspace bandit config"
SOURCE_PER_PATH = "per-path skip"
SOURCE_DEFAULT = "default"
SOURCE_DETECT_SECRETS = "detect-secrets baseline"

#: B101 (``assert``) where tests live, as bandit users configure it for themselves.
DEFAULT_PER_PATH_SKIPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("**/tests/**", ("B101",)),
    ("**/test/**", ("B101",)),
    ("**/test_*.py", ("B101",)),
    ("**/*_test.py", ("B101",)),
    ("**/conftest.py", ("B101",)),
)

_BANDIT_RULE = re.compile(r"^B\d{3}$")  # bandit's ids; the secret rules have names


@dataclass(frozen=True)
class Hidden:
    """Why one finding is not reported: which kind of skip, and which part of it."""

    source: str
    detail: str  # the pattern, the config file and key, or the baseline's name


@dataclass(frozen=True)
class PathSkip:
    pattern: str
    rules: frozenset[str]
    source: str
    spec: pathspec.PathSpec[Any] = field(compare=False, repr=False)


@dataclass(frozen=True)
class SkipRules:
    bandit: BanditSettings = field(default_factory=BanditSettings)
    path_skips: tuple[PathSkip, ...] = ()

    def hidden(self, rule: str, path: str) -> Hidden | None:
        """The skip that hides a finding of ``rule`` in ``path``, or None: it is reported."""
        bandit = self.bandit
        if _BANDIT_RULE.match(rule):
            if rule in bandit.hidden_rules:
                key = "skips" if rule in bandit.skips or not bandit.tests else "tests"
                return Hidden(SOURCE_BANDIT, f"{bandit.source} {key}")
            excluded = excluded_by(bandit.exclude, path)
            if excluded is not None:
                return Hidden(SOURCE_BANDIT, f"{bandit.source} exclude_dirs {excluded}")
        for skip in self.path_skips:
            if rule in skip.rules and skip.spec.match_file(path):
                return Hidden(skip.source, skip.pattern)
        return None


def excluded_by(globs: Iterable[str], path: str) -> str | None:
    """The first of bandit's ``exclude_dirs`` that takes ``path`` out (bandit's test)."""
    shown = "./" + path
    for glob in globs:
        if fnmatch.fnmatch(shown, glob) or glob in shown:
            return glob
    return None


def compile_path_skips(skips: Iterable[tuple[str, Sequence[str]]], source: str
                       ) -> tuple[PathSkip, ...]:
    """Compiled per-path skips; raises ValueError naming a pattern pathspec refuses."""
    compiled = []
    for pattern, rules in skips:
        if not pattern.strip() or pattern.startswith(("!", "#")):
            # One pattern alone: a negation, a comment or nothing would hide nothing.
            raise ValueError(f"invalid per-path skip pattern {pattern!r}: name the paths "
                             "whose findings of these rules are not reported")
        try:
            spec = pathspec.PathSpec.from_lines("gitignore", [pattern])
        except Exception as exc:  # pathspec raises several types for malformed globs
            raise ValueError(f"invalid per-path skip pattern {pattern!r}: {exc}") from exc
        compiled.append(PathSkip(pattern, frozenset(rules), source, spec))
    return tuple(compiled)


DEFAULT_SKIPS = compile_path_skips(DEFAULT_PER_PATH_SKIPS, SOURCE_DEFAULT)


def skip_rules(bandit: BanditSettings,
               per_path: tuple[PathSkip, ...] | None) -> SkipRules:
    """The skips in force: ``per_path`` None means ours are not configured."""
    if per_path is not None:
        return SkipRules(bandit, per_path)
    return SkipRules(bandit, () if bandit.configured else DEFAULT_SKIPS)
