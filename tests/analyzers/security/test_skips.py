"""Which skip hides a finding: bandit's config as bandit applies it, ours, the default."""

from __future__ import annotations

import pytest
from bandit.core import manager as b_manager

from analyzers.security.skips import (
    DEFAULT_SKIPS,
    SOURCE_BANDIT,
    SOURCE_DEFAULT,
    SOURCE_PER_PATH,
    Hidden,
    compile_path_skips,
    excluded_by,
    skip_rules,
)
from analyzers.security.workspace_config import BanditSettings

CONFIGURED = BanditSettings(source="pyproject.toml [tool.bandit]", skips=frozenset({"B311"}),
                            hidden_rules=frozenset({"B311"}), exclude=("build",))


@pytest.mark.parametrize("path", ["tests/test_app.py", "tests/data/helper.py",
                                  "pkg/tests/unit/x.py", "test/a.py", "test_app.py",
                                  "pkg/test_core.py", "pkg/core_test.py", "conftest.py",
                                  "pkg/conftest.py"])
def test_the_default_skips_assert_where_tests_live(path: str) -> None:
    hidden = skip_rules(BanditSettings(), None).hidden("B101", path)
    assert hidden is not None and hidden.source == SOURCE_DEFAULT
    # only assert: a shell=True in a test is still news
    assert skip_rules(BanditSettings(), None).hidden("B602", path) is None


@pytest.mark.parametrize("path", ["pkg/app.py", "testing.py", "pkg/contest.py",
                                  "latest/app.py", "tests.py"])
def test_the_default_leaves_other_code_alone(path: str) -> None:
    assert skip_rules(BanditSettings(), None).hidden("B101", path) is None


def test_the_default_names_its_pattern() -> None:
    rules = skip_rules(BanditSettings(), None)
    assert rules.hidden("B101", "tests/a.py") == Hidden(SOURCE_DEFAULT, "**/tests/**")
    assert rules.hidden("B101", "pkg/test_a.py") == Hidden(SOURCE_DEFAULT, "**/test_*.py")


def test_a_workspace_bandit_config_replaces_the_default() -> None:
    rules = skip_rules(CONFIGURED, None)
    assert rules.hidden("B101", "tests/test_a.py") is None  # bandit reports it: so do we
    assert rules.hidden("B311", "pkg/app.py") == Hidden(
        SOURCE_BANDIT, "pyproject.toml [tool.bandit] skips")
    assert rules.hidden("B602", "build/gen.py") == Hidden(
        SOURCE_BANDIT, "pyproject.toml [tool.bandit] exclude_dirs build")


def test_bandit_excludes_hide_bandit_rules_only() -> None:
    rules = skip_rules(CONFIGURED, None)
    # exclude_dirs is bandit's: the secret rules (detect-secrets' field) still look there.
    assert rules.hidden("aws-access-key-id", "build/settings.py") is None


def test_tests_name_what_hid_a_rule_they_leave_out() -> None:
    bandit = BanditSettings(source=".bandit", tests=frozenset({"B602"}),
                            hidden_rules=frozenset({"B101", "B311"}))
    assert skip_rules(bandit, None).hidden("B101", "a.py") == Hidden(SOURCE_BANDIT,
                                                                    ".bandit tests")


def test_our_per_path_skips_replace_the_default_and_add_to_bandits() -> None:
    ours = compile_path_skips([("migrations/**", ["B608", "B101"])], SOURCE_PER_PATH)
    rules = skip_rules(BanditSettings(), ours)
    assert rules.hidden("B608", "migrations/0001.py") == Hidden(SOURCE_PER_PATH,
                                                                "migrations/**")
    assert rules.hidden("B101", "tests/test_a.py") is None  # the default is replaced
    beside_bandit = skip_rules(CONFIGURED, ours)
    assert beside_bandit.hidden("B101", "migrations/x.py") == Hidden(SOURCE_PER_PATH,
                                                                     "migrations/**")
    assert beside_bandit.hidden("B311", "migrations/x.py").source == SOURCE_BANDIT


def test_an_empty_table_turns_the_default_off() -> None:
    rules = skip_rules(BanditSettings(), ())
    assert rules.path_skips == ()
    assert rules.hidden("B101", "tests/test_a.py") is None


def test_the_default_is_the_documented_one() -> None:
    assert [(s.pattern, sorted(s.rules)) for s in DEFAULT_SKIPS] == [
        ("**/tests/**", ["B101"]), ("**/test/**", ["B101"]), ("**/test_*.py", ["B101"]),
        ("**/*_test.py", ["B101"]), ("**/conftest.py", ["B101"])]


@pytest.mark.parametrize("pattern", ["!tests/**", "", "# note", "\\"])
def test_a_pattern_that_cannot_hide_anything_is_refused(pattern: str) -> None:
    with pytest.raises(ValueError, match="invalid per-path skip pattern"):
        compile_path_skips([(pattern, ["B101"])], SOURCE_PER_PATH)


GLOBS = [["tests"], ["./tests"], ["*/tests/*"], ["tests/*"], ["*.pyc", "build"],
         ["vendor/*", "*/migrations/*"], ["docs"]]
PATHS = ["tests/test_a.py", "pkg/tests/x.py", "attests/x.py", "src/app.py", "build/gen.py",
         "vendor/lib.py", "app/migrations/0001.py", "docs/conf.py", "pkg/my_tests.py"]


@pytest.mark.parametrize("globs", GLOBS)
def test_exclude_dirs_match_as_bandit_run_from_the_root_matches_them(globs: list[str]
                                                                      ) -> None:
    for path in PATHS:
        # bandit -r . sees "./<path>"; its own test decides what it leaves out.
        bandit_keeps = b_manager._is_file_included("./" + path, ["*.py"], list(globs))
        assert (excluded_by(globs, path) is None) == bandit_keeps, (globs, path)
