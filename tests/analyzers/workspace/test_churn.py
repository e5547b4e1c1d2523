"""Churn: how often each path changed, a path named twice in one batch counted once."""

from __future__ import annotations

from analyzers.workspace.churn import Churn


def test_changes_are_counted_per_batch_and_ranked() -> None:
    churn = Churn()
    first = churn.record(["a.py", "b.py", "a.py"])
    assert (first.changes, first.paths, first.batch) == (2, 2, 2)
    second = churn.record(["b.py"])
    assert second.top == (("b.py", 2), ("a.py", 1)) and second.batch == 1
    assert churn.count("b.py") == 2 and churn.count("never.py") == 0
    snapshot = churn.snapshot(top=1)
    assert snapshot.top == (("b.py", 2),) and snapshot.batch == 0
    assert snapshot.to_data() == {"changes": 3, "paths": 2, "batch": 0,
                                  "top": [{"path": "b.py", "changes": 2}]}


def test_ties_rank_by_path() -> None:
    churn = Churn()
    churn.record(["z.py", "m.py", "a.py"])
    assert [path for path, _ in churn.snapshot().top] == ["a.py", "m.py", "z.py"]
