"""Judging jedi's answers against the index and the code, and a call's figures."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from analyzers.code_assist.judge import Defined, Truth, Verdict, figures, judge
from analyzers.code_assist.positions import COMPLETION, DEFINITION, KINDS, REFERENCES, Position
from analyzers.code_assist.requests import Answer, Place

TRUTH = Truth.of({"add": [Defined("pkg/core.py", 1, 0)],
                  "Box": [Defined("pkg/app.py", 3, 0), Defined("pkg/other.py", 9, 1)]},
                 ["pkg/__init__.py", "pkg/core.py", "pkg/app.py", "ns/inner/mod.py", "README"])


def answer(kind: str, name: str, *places: Place, contains: bool = False) -> Answer:
    return Answer(Position(kind, name, 7, 4), 1.5, places, contains=contains)


def test_a_definition_is_right_where_the_index_records_that_name() -> None:
    right = answer(DEFINITION, "add", Place(None, 12, 0), Place("pkg/core.py", 1, 4))
    assert judge("pkg/app.py", right, TRUTH).right is True
    wrong_line = answer(DEFINITION, "add", Place("pkg/core.py", 2, 4))
    assert judge("pkg/app.py", wrong_line, TRUTH).right is False
    nothing = answer(DEFINITION, "add")
    assert judge("pkg/app.py", nothing, TRUTH).right is False


def test_a_name_bound_to_a_module_is_defined_by_a_file_the_index_holds() -> None:
    module = answer(DEFINITION, "core", Place("pkg/core.py", 1, 0, "module"))
    assert judge("pkg/app.py", module, TRUTH).right is True
    elsewhere = answer(DEFINITION, "json", Place(None, 1, 0, "module"))
    assert judge("pkg/app.py", elsewhere, TRUTH).right is False
    # A statement at line 1 of an indexed file is not the module itself.
    statement = answer(DEFINITION, "core", Place("pkg/core.py", 1, 0, "statement"))
    assert judge("pkg/app.py", statement, TRUTH).right is False


def test_references_must_hold_the_position_asked_and_the_module_level_definition() -> None:
    asked = Place("pkg/app.py", 7, 4)
    both = answer(REFERENCES, "Box", asked, Place("pkg/app.py", 3, 6))
    assert judge("pkg/app.py", both, TRUTH).right is True
    without_definition = answer(REFERENCES, "Box", asked)
    assert judge("pkg/app.py", without_definition, TRUTH).right is False
    without_the_use = answer(REFERENCES, "Box", Place("pkg/app.py", 3, 6))
    assert judge("pkg/app.py", without_the_use, TRUTH).right is False
    # Defined in another file only: the use itself is enough.
    assert judge("pkg/app.py", answer(REFERENCES, "add", asked), TRUTH).right is True


def test_completion_is_right_when_it_proposes_the_attribute_the_code_uses() -> None:
    assert judge("a.py", answer(COMPLETION, "put", contains=True), None).right is True
    assert judge("a.py", answer(COMPLETION, "put", contains=False), TRUTH).right is False


def test_without_an_index_definitions_and_references_are_not_judged() -> None:
    for kind in (DEFINITION, REFERENCES):
        assert judge("pkg/app.py", answer(kind, "add", Place("pkg/core.py", 1, 4)),
                     None).right is None


def test_the_workspace_s_modules_include_namespace_packages() -> None:
    assert TRUTH.in_workspace("pkg") and TRUTH.in_workspace("pkg.core")
    assert TRUTH.in_workspace("ns") and TRUTH.in_workspace("ns.inner.mod")
    assert not TRUTH.in_workspace("json") and not TRUTH.in_workspace("README")


def test_figures_count_per_kind_and_accuracy_is_right_over_judged() -> None:
    verdicts = [Verdict(DEFINITION, 10.0, True), Verdict(DEFINITION, 30.0, False),
                Verdict(REFERENCES, 2.0, None), Verdict(COMPLETION, 4.0, True)]
    numbers = figures(verdicts)
    assert numbers["requests"] == {DEFINITION: 2, REFERENCES: 1, COMPLETION: 1}
    assert numbers["judged"] == {DEFINITION: 2, REFERENCES: 0, COMPLETION: 1}
    assert numbers["agreement"] == {DEFINITION: 0.5, REFERENCES: None, COMPLETION: 1.0}
    assert numbers["accuracy"] == round(2 / 3, 4)
    assert numbers["latency_ms"][DEFINITION] == {"p50": 20.0, "p95": 29.0}
    nothing = figures([])
    assert nothing["accuracy"] is None
    assert nothing["latency_ms"][COMPLETION] == {"p50": None, "p95": None}


@given(st.lists(st.tuples(st.sampled_from(KINDS), st.floats(0, 1e4),
                          st.sampled_from([True, False, None])), max_size=40))
def test_accuracy_is_a_fraction_between_the_worst_and_best_kind(
        rows: list[tuple[str, float, bool | None]]) -> None:
    numbers = figures([Verdict(k, ms, right) for k, ms, right in rows])
    kinds = [v for v in numbers["agreement"].values() if v is not None]
    if not kinds:
        assert numbers["accuracy"] is None
        return
    assert 0.0 <= numbers["accuracy"] <= 1.0
    assert min(kinds) - 1e-4 <= numbers["accuracy"] <= max(kinds) + 1e-4
    assert sum(numbers["requests"].values()) == len(rows)
