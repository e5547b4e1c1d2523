"""Reading a workspace's bandit config and detect-secrets baseline from real files.

The detect-secrets baseline here is made by the real ``detect-secrets scan``; the bandit
selections are checked against bandit's own test set (what ``bandit`` would run).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
from bandit.core import config as b_config
from bandit.core import test_set as b_test_set

from analyzers.security.workspace_config import (
    BanditSettings,
    read_bandit_settings,
    read_detect_secrets_baseline,
)

# The test extra installs it beside the interpreter running the tests.
DETECT_SECRETS = Path(sys.executable).with_name("detect-secrets")


def bandit_runs(tests: set[str], skips: set[str]) -> set[str]:
    """The test ids bandit's own test set runs for this profile (its blacklist entries too)."""
    test_set = b_test_set.BanditTestSet(b_config.BanditConfig(),
                                        {"include": tests, "exclude": skips})
    ids: set[str] = set()
    for funcs in test_set.tests.values():
        for func in funcs:
            if func.__name__ == "blacklist":
                for entries in func._config.values():
                    ids.update(entry["id"] for entry in entries)
            else:
                ids.add(func._test_id)
    return ids


EVERY = bandit_runs(set(), set())


def write(root: Path, name: str, text: str) -> None:
    (root / name).parent.mkdir(parents=True, exist_ok=True)
    (root / name).write_text(text)


# --- bandit -----------------------------------------------------------------------------


def test_a_workspace_without_bandit_config_has_none(tmp_path: Path) -> None:
    write(tmp_path, "pyproject.toml", "[project]\nname = 'x'\n")
    assert read_bandit_settings(tmp_path) == BanditSettings()
    assert not read_bandit_settings(tmp_path).configured


def test_pyproject_tool_bandit_skips_and_exclude_dirs(tmp_path: Path) -> None:
    write(tmp_path, "pyproject.toml",
          '[tool.bandit]\nskips = ["B101", "B311"]\nexclude_dirs = ["tests", "build"]\n')
    settings = read_bandit_settings(tmp_path)
    assert settings.source == "pyproject.toml [tool.bandit]"
    assert settings.skips == {"B101", "B311"}
    assert settings.hidden_rules == EVERY - bandit_runs(set(), {"B101", "B311"})
    assert settings.hidden_rules == {"B101", "B311"}
    assert settings.exclude == ("tests", "build")
    assert settings.problems == ()


@pytest.mark.parametrize(("tests", "skips"), [
    ({"B602", "B101"}, set()),
    (set(), {"B001"}),  # bandit: B001 stands for every blacklist test
    ({"B001", "B301"}, set()),  # ...unless one of them is named beside it
    ({"B602", "B603", "B604"}, {"B101"}),
])
def test_tests_and_skips_select_what_bandit_would_run(tmp_path: Path, tests: set[str],
                                                      skips: set[str]) -> None:
    write(tmp_path, "pyproject.toml",
          f"[tool.bandit]\ntests = {sorted(tests)!r}\nskips = {sorted(skips)!r}\n")
    settings = read_bandit_settings(tmp_path)
    assert settings.problems == ()
    assert EVERY - settings.hidden_rules == bandit_runs(tests, skips)


def test_plugin_options_are_kept_for_the_rules(tmp_path: Path) -> None:
    write(tmp_path, "pyproject.toml", '[tool.bandit]\nskips = ["B101"]\n'
          '[tool.bandit.hardcoded_tmp_directory]\ntmp_dirs = ["/var/spool"]\n')
    settings = read_bandit_settings(tmp_path)
    assert json.loads(settings.plugin_options) == {
        "hardcoded_tmp_directory": {"tmp_dirs": ["/var/spool"]}}


def test_dot_bandit_ini_with_a_yaml_configfile(tmp_path: Path) -> None:
    (tmp_path / "generated").mkdir()
    write(tmp_path, ".bandit",
          "[bandit]\nskips = B101,B404\ntests =\nexclude = ./vendor,generated\n"
          "configfile = conf/bandit.yaml\n")
    write(tmp_path, "conf/bandit.yaml",
          "skips: [B311]\nexclude_dirs: [build]\n"
          "hardcoded_tmp_directory:\n  tmp_dirs: [/srv/tmp]\n")
    settings = read_bandit_settings(tmp_path)
    assert settings.source == ".bandit + conf/bandit.yaml"
    assert settings.skips == {"B101", "B404", "B311"}  # the INI's add to the file's
    assert settings.exclude == ("build", "./vendor", "generated", "generated/*")
    assert json.loads(settings.plugin_options) == {
        "hardcoded_tmp_directory": {"tmp_dirs": ["/srv/tmp"]}}
    assert settings.files == ("conf/bandit.yaml",)
    assert settings.problems == ()


def test_dot_bandit_ini_alone_and_pyproject_beside_it(tmp_path: Path) -> None:
    write(tmp_path, ".bandit", "[bandit]\nskips: B101\n")
    write(tmp_path, "pyproject.toml", '[tool.bandit]\nexclude_dirs = ["tests"]\n')
    settings = read_bandit_settings(tmp_path)
    # As `bandit -c pyproject.toml -r .` reads them both.
    assert settings.source == ".bandit + pyproject.toml [tool.bandit]"
    assert settings.skips == {"B101"}
    assert settings.exclude == ("tests",)


def test_dot_bandit_as_yaml(tmp_path: Path) -> None:
    write(tmp_path, ".bandit", "skips: ['B101']\nexclude_dirs: ['tests']\n")
    settings = read_bandit_settings(tmp_path)
    assert (settings.source, settings.skips, settings.exclude) == (".bandit", {"B101"},
                                                                   ("tests",))


@pytest.mark.parametrize(("name", "text", "problem"), [
    (".bandit", "[other]\nskips = B101\n: : :\n- [\n",
     ".bandit is neither an INI file with a [bandit] section nor a YAML bandit config"),
    ("pyproject.toml", "[tool.bandit\nskips = 1\n", "pyproject.toml is not valid TOML"),
    ("pyproject.toml", "[tool]\nbandit = 3\n", "pyproject.toml [tool.bandit] is not a table"),
    ("pyproject.toml", '[tool.bandit]\nskips = "B101"\n',
     "pyproject.toml [tool.bandit] skips must be a list of test ids"),
    ("pyproject.toml", '[tool.bandit]\nexclude_dirs = "tests"\n',
     "pyproject.toml [tool.bandit] exclude_dirs must be a list of paths or globs"),
    ("pyproject.toml", '[tool.bandit]\nskips = ["B999"]\n',
     "unknown test id 'B999' (bandit ignores it too)"),
])
def test_a_bad_config_is_a_problem_naming_the_file(tmp_path: Path, name: str, text: str,
                                                   problem: str) -> None:
    write(tmp_path, name, text)
    settings = read_bandit_settings(tmp_path)
    assert any(problem in line for line in settings.problems), settings.problems
    assert settings.hidden_rules == set()  # what was ignored hides nothing
    assert settings.exclude == ()


def test_the_same_id_in_tests_and_skips_is_ignored_as_bandit_refuses_it(
        tmp_path: Path) -> None:
    write(tmp_path, "pyproject.toml", '[tool.bandit]\ntests = ["B101"]\nskips = ["B101"]\n')
    settings = read_bandit_settings(tmp_path)
    assert settings.hidden_rules == set()
    assert any("both in tests and in skips" in p for p in settings.problems)


def test_a_configfile_that_is_missing_is_a_problem(tmp_path: Path) -> None:
    write(tmp_path, ".bandit", "[bandit]\nskips = B101\nconfigfile = nowhere.yaml\n")
    settings = read_bandit_settings(tmp_path)
    assert settings.skips == {"B101"}  # the INI's own options still apply
    assert settings.problems == ("nowhere.yaml cannot be read; ignored",)


# --- detect-secrets -----------------------------------------------------------------------

AWS_ID = "AKIAZ3MQ7RT2XW5NPK4E"
PASSWORD = "Pa55w0rd!Prod"


def sha1(text: str) -> str:
    return hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()


def test_a_baseline_made_by_detect_secrets(tmp_path: Path) -> None:
    write(tmp_path, "pkg/app.py", f'password = "{PASSWORD}"\naws = "{AWS_ID}"\n')
    write(tmp_path, "notes.md", "nothing here\n")
    made = subprocess.run([str(DETECT_SECRETS), "scan", "--all-files"], cwd=tmp_path,
                          capture_output=True, text=True, check=True, timeout=120)
    (tmp_path / ".secrets.baseline").write_text(made.stdout)
    baseline = read_detect_secrets_baseline(tmp_path)
    assert baseline.problem == ""
    assert baseline.for_path("pkg/app.py") == {sha1(PASSWORD), sha1(AWS_ID)}
    assert baseline.for_path("notes.md") == frozenset()
    assert baseline.entries == 2


def test_file_names_are_taken_relative_to_the_root(tmp_path: Path) -> None:
    results = {"./a.py": [{"type": "Secret Keyword", "hashed_secret": "AB" * 20}],
               str(tmp_path / "b" / "c.py"): [{"type": "x", "hashed_secret": "cd" * 20}]}
    write(tmp_path, ".secrets.baseline", json.dumps({"version": "1.5.0", "results": results}))
    baseline = read_detect_secrets_baseline(tmp_path)
    assert baseline.for_path("a.py") == {"ab" * 20}
    assert baseline.for_path("b/c.py") == {"cd" * 20}


def test_no_baseline_is_an_empty_one(tmp_path: Path) -> None:
    baseline = read_detect_secrets_baseline(tmp_path)
    assert (baseline.path, baseline.entries, baseline.problem) == (None, 0, "")


@pytest.mark.parametrize(("text", "problem"), [
    ("{not json", ".secrets.baseline is not JSON; ignored"),
    ('{"results": []}', ".secrets.baseline is not a detect-secrets baseline"),
    ('{"results": {"a.py": [{"type": "x"}]}}', ".secrets.baseline is not a detect-secrets"),
    ('{"findings": []}', ".secrets.baseline is not a detect-secrets baseline"),
])
def test_a_baseline_in_another_format_is_a_problem_and_accepts_nothing(
        tmp_path: Path, text: str, problem: str) -> None:
    write(tmp_path, ".secrets.baseline", text)
    baseline = read_detect_secrets_baseline(tmp_path)
    assert baseline.problem.startswith(problem)
    assert baseline.entries == 0
