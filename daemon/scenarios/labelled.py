"""The learning scenario's labelled set (``learning-set/``, see its README) and its scoring.

Each case is one edit (``before.py`` -> ``after.py``; ``# learned: SHAPE`` marks where a fix
must be learned) plus other code: ``similar.py`` (``# expect: SHAPE`` lines must be warned
about once learned) and ``lookalike.py`` (``# expect: none`` lines must not be).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

LEARNING_SET = Path(__file__).resolve().parent / "learning-set"
MARK = re.compile(r"#\s*(learned|expect):\s*(\w+)")
WARNING_PREFIX = "learned:"

Warning = tuple[str, int, str]  # path, line, rule


@dataclass(frozen=True)
class Accuracy:
    learned_expected: int
    learned_right: int
    learned_wrong: int
    true_positives: int
    false_positives: int
    false_negatives: int
    negatives: int  # lines labelled "none"
    false_positives_on_negatives: int

    @property
    def learning_precision(self) -> float:
        return self.learned_right / max(1, self.learned_right + self.learned_wrong)

    @property
    def learning_recall(self) -> float:
        return self.learned_right / max(1, self.learned_expected)

    @property
    def precision(self) -> float:
        return self.true_positives / max(1, self.true_positives + self.false_positives)

    @property
    def recall(self) -> float:
        return self.true_positives / max(1, self.true_positives + self.false_negatives)

    @property
    def false_positive_rate(self) -> float:
        return self.false_positives_on_negatives / max(1, self.negatives)

    @property
    def false_negative_rate(self) -> float:
        return 1.0 - self.recall


def marks(text: str, kind: str) -> dict[int, str]:
    found = {}
    for number, line in enumerate(text.splitlines(), start=1):
        match = MARK.search(line)
        if match and match.group(1) == kind:
            found[number] = match.group(2)
    return found


def cases(root: Path = LEARNING_SET) -> list[Path]:
    return sorted(d for d in root.iterdir() if d.is_dir())


def elsewhere(case: Path, prefix: str = "other") -> Iterator[tuple[str, Path]]:
    """(workspace path, source) of a case's similar and lookalike code."""
    for kind in ("similar", "lookalike"):
        source = case / f"{kind}.py"
        if source.exists():
            yield f"{prefix}/{case.name}_{kind}.py", source


def expected_learning(edits: Iterable[tuple[str, str]]) -> set[tuple[str, int, str]]:
    """(path, line, shape) the learner must learn from ``(path, after text)`` edits."""
    return {(path, line, shape) for path, after in edits
            for line, shape in marks(after, "learned").items()}


def score(expected: set[tuple[str, int, str]], learned: Iterable[tuple[str, int, str]],
          labelled: Iterable[tuple[str, str]], warnings: Iterable[Warning]) -> Accuracy:
    """``labelled``: (workspace path, text) of the similar and lookalike files. Only those
    files are scored: an edited file of a ``no_learn_*`` control keeps its risky shape on
    purpose and is rightly warned about."""
    learned_list = list(learned)
    positives: set[Warning] = set()
    negatives: set[tuple[str, int]] = set()
    paths: set[str] = set()
    for path, text in labelled:
        paths.add(path)
        for line, shape in marks(text, "expect").items():
            if shape == "none":
                negatives.add((path, line))
            else:
                positives.add((path, line, f"{WARNING_PREFIX}{shape}"))
    seen = {w for w in warnings if w[0] in paths and w[2].startswith(WARNING_PREFIX)}
    right = len(set(learned_list) & expected)
    return Accuracy(
        learned_expected=len(expected),
        learned_right=right,
        learned_wrong=len(learned_list) - right,
        true_positives=len(seen & positives),
        false_positives=len(seen - positives),
        false_negatives=len(positives - seen),
        negatives=len(negatives),
        false_positives_on_negatives=len({(p, line) for p, line, _ in seen} & negatives))
