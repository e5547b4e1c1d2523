"""The worker's side: jedi asked at positions of one file, on the bytes they came from."""

from __future__ import annotations

import hashlib
from pathlib import Path

from analyzers.code_assist.positions import COMPLETION, DEFINITION, REFERENCES, Position
from analyzers.code_assist.requests import Assistant, AssistTask, FileAnswers, Place
from analyzers.common.sourcefile import Skip

SOURCE = "import os\n\nLIMIT = 3\nvalue = os.getcwd() + str(LIMIT)\n"


def task(root: Path, digest: str, *positions: Position) -> AssistTask:
    return AssistTask("mod.py", str(root / "mod.py"), str(root), digest, 1 << 20, positions)


def test_each_kind_is_asked_and_places_outside_the_workspace_have_no_path(
        tmp_path: Path) -> None:
    root = tmp_path / "ws"
    root.mkdir()
    (root / "mod.py").write_text(SOURCE)
    digest = hashlib.sha256(SOURCE.encode()).hexdigest()
    assistant = Assistant(str(tmp_path / "cache"))
    answers = assistant(task(root, digest, Position(DEFINITION, "LIMIT", 4, 26),
                             Position(DEFINITION, "os", 4, 8),
                             Position(REFERENCES, "LIMIT", 4, 26),
                             Position(COMPLETION, "getcwd", 4, 11)))
    assert isinstance(answers, FileAnswers)
    limit, os_module, references, completion = answers.answers
    assert limit.places == (Place("mod.py", 3, 0, "statement"),)
    [os_place] = os_module.places
    assert os_place.path is None and os_place.kind == "module"  # the installed os
    assert {(p.line, p.column) for p in references.places} == {(3, 0), (4, 26)}
    assert completion.contains and completion.proposals > 10
    assert all(a.ms >= 0 for a in answers.answers)


def test_bytes_other_than_those_sampled_are_a_transient_skip(tmp_path: Path) -> None:
    (tmp_path / "mod.py").write_text(SOURCE)
    assistant = Assistant(str(tmp_path / "cache"))
    skipped = assistant(task(tmp_path, "not-the-digest", Position(DEFINITION, "LIMIT", 4, 26)))
    assert isinstance(skipped, Skip) and skipped.transient
