from __future__ import annotations

import re
from pathlib import Path

import pytest

from daemon.config import (
    DEFAULT_DB_PATH,
    Config,
    ConfigError,
    ResourceLimits,
    hook_db,
    load_config,
    resolve_db_path,
)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_are_the_specs_testing_config(tmp_path: Path) -> None:
    config = load_config(env={"XDG_CONFIG_HOME": str(tmp_path)})
    assert config == Config()
    assert config.db_path == "realworld_testing.db"
    assert config.default_duration == 5
    assert config.monitor_interval == 30
    assert config.resource_limits.as_dict() == {
        "cpu_percent_max": 90.0, "memory_percent_max": 95.0,
        "disk_percent_max": 98.0, "consecutive_errors_max": 5,
    }


def test_file_values_override_defaults(tmp_path: Path) -> None:
    path = write(tmp_path, """
db_path = "ci.db"
default_duration = 10
monitor_interval = 60
durability = "full"

[resource_limits]
cpu_percent_max = 80.0
consecutive_errors_max = 3
""")
    config = load_config(path, env={})
    assert (config.db_path, config.default_duration, config.monitor_interval) == ("ci.db", 10, 60)
    assert config.default_duration_from_file and not Config().default_duration_from_file
    assert config.durability == "full"
    assert config.resource_limits == ResourceLimits(cpu_percent_max=80.0,
                                                    consecutive_errors_max=3)
    assert config.source == path


def test_xdg_config_file_is_found(tmp_path: Path) -> None:
    (tmp_path / "realworld").mkdir()
    (tmp_path / "realworld" / "config.toml").write_text('db_path = "xdg.db"\n')
    config = load_config(env={"XDG_CONFIG_HOME": str(tmp_path)})
    assert config.db_path == "xdg.db"


@pytest.mark.parametrize("text, fragment", [
    ("db_pth = 'x.db'", "unknown key 'db_pth'"),
    ("default_duration = 'five'", "default_duration must be a number"),
    ("monitor_interval = 0", "monitor_interval must be greater than 0"),
    ("durability = 'sometimes'", "durability must be one of normal, full"),
    ("[resource_limits]\ncpu_percent_max = 150", "must be a percentage"),
    ("[resource_limits]\nconsecutive_errors_max = 2.5", "whole number"),
    ("[resource_limits]\ngpu_percent_max = 50", "unknown resource limit"),
    ("resource_limits = 3", "resource_limits must be a table"),
    ("db_path = [", "not valid TOML"),
    ("compare = 5", "compare must be a table"),
    ("[compare]\nfloor = 5", "unknown key 'floor' (known: threshold, min_delta_ms, alpha)"),
    ("[compare]\nmin_delta_ms = -1", "min_delta_ms must be >= 0"),
    ("[compare]\nthreshold = nan", "threshold must be >= 0"),
    ("[compare]\nalpha = 0", "alpha must be in (0, 1]"),
    ("[compare]\nalpha = 'low'", "alpha must be a number"),
])
def test_bad_config_is_one_clear_line(tmp_path: Path, text: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text), env={})
    message = str(caught.value)
    assert fragment in message
    assert "\n" not in message


def test_metrics_textfile(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, '[metrics]\ntextfile = "/var/lib/node/rw.prom"\n'),
                         env={})
    assert config.metrics_textfile == "/var/lib/node/rw.prom"
    assert load_config(write(tmp_path, "[metrics]\n"), env={}).metrics_textfile is None
    assert Config().metrics_textfile is None


@pytest.mark.parametrize("text, fragment", [
    ("metrics = 3", "metrics must be a table"),
    ("[metrics]\ntext_file = 'a.prom'", "unknown key 'text_file' (known: interval, textfile)"),
    ("[metrics]\ntextfile = 'metrics.txt'", "textfile must be a path ending in .prom"),
])
def test_bad_metrics_table_is_one_clear_line(tmp_path: Path, text: str, fragment: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(fragment)):
        load_config(write(tmp_path, text), env={})


def test_hook_logs_live_in_the_state_directory_one_per_workspace() -> None:
    env = {"XDG_STATE_HOME": "/state"}
    one, two = hook_db(Path("/repo/one"), env), hook_db(Path("/repo/two"), env)
    assert one.parent == Path("/state/realworld/hooks") and one.suffix == ".db"
    assert one != two and one == hook_db(Path("/repo/one"), env)


def test_the_compare_table(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "[compare]\nthreshold = 10\nmin_delta_ms = 2.5\n"
                                         "alpha = 0.05\n"), env={})
    assert (config.compare_threshold_pct, config.compare_min_delta_ms,
            config.compare_alpha) == (10.0, 2.5, 0.05)
    unset = load_config(write(tmp_path, "[compare]\nalpha = 0.05\n"), env={})
    assert (unset.compare_threshold_pct, unset.compare_min_delta_ms) == (None, None)


def test_missing_explicit_config_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no config file"):
        load_config(tmp_path / "absent.toml", env={})


def test_db_path_precedence(tmp_path: Path) -> None:
    from_file = load_config(write(tmp_path, 'db_path = "file.db"'), env={})
    env = {"REALWORLD_TESTING_DB": "env.db"}
    assert resolve_db_path("flag.db", from_file, env) == Path("flag.db")
    assert resolve_db_path(None, from_file, env) == Path("env.db")
    assert resolve_db_path(None, from_file, {}) == Path("file.db")
    assert resolve_db_path(None, Config(), {}) == Path(DEFAULT_DB_PATH)


def test_daemon_keys(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, """
workspaces = ["~/src/a", "/srv/b"]
ignore = ["*.log", "dist/"]
settle_ms = 250
analyzer_timeout = 10
max_pending = 500
probe_interval = 60
max_file_bytes = 4194304
file_timeout = 2.5
"""), env={})
    assert config.workspaces == ("~/src/a", "/srv/b")
    assert config.ignore == ("*.log", "dist/")
    assert (config.settle_ms, config.analyzer_timeout, config.max_pending) == (250, 10, 500)
    assert config.probe_interval == 60
    assert config.max_file_bytes == 4 * 1024 * 1024
    assert config.file_timeout == 2.5
    assert load_config(write(tmp_path, ""), env={}).max_file_bytes is None  # each its own


@pytest.mark.parametrize("text", ["workspaces = '/one/path'", "ignore = [1, 2]",
                                  "workspaces = ['']", "settle_ms = -5",
                                  "max_pending = 0", "max_pending = 1.5",
                                  "max_file_bytes = 0", "max_file_bytes = '2MB'",
                                  "file_timeout = 0", "file_timeout = 'soon'"])
def test_bad_daemon_keys(tmp_path: Path, text: str) -> None:
    with pytest.raises(ConfigError):
        load_config(write(tmp_path, text), env={})


def test_daemon_default_db_is_in_the_xdg_state_dir(tmp_path: Path) -> None:
    from daemon.config import default_state_db

    state = default_state_db({"XDG_STATE_HOME": str(tmp_path)})
    assert state == tmp_path / "realworld" / "realworld.db"
    assert resolve_db_path(None, Config(), {}, default=state) == state
    assert resolve_db_path(None, Config(), {"REALWORLD_TESTING_DB": "e.db"},
                           default=state) == Path("e.db")


def test_security_per_path_skips(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, '[security.per_path_skips]\n"tests/**" = ["B101"]\n'
                                         '"migrations/*.py" = ["B608", "B101"]\n'), env={})
    assert config.security_per_path_skips == (("tests/**", ("B101",)),
                                              ("migrations/*.py", ("B608", "B101")))
    # An empty table is said on purpose: it turns the scanner's default off.
    empty = load_config(write(tmp_path, "[security.per_path_skips]\n"), env={})
    assert empty.security_per_path_skips == ()
    assert load_config(write(tmp_path, "[security]\n"), env={}).security_per_path_skips is None
    assert Config().security_per_path_skips is None


@pytest.mark.parametrize("text, fragment", [
    ("security = 3", "security must be a table"),
    ("[security]\nper_path_skip = {}", "unknown key 'per_path_skip'"),
    ("[security]\nper_path_skips = ['B101']", "per_path_skips must be a table"),
    ('[security.per_path_skips]\n"tests/**" = "B101"', "must be a list of non-empty strings"),
    ('[security.per_path_skips]\n"!tests/**" = ["B101"]', "invalid per-path skip pattern"),
])
def test_bad_security_config_is_one_clear_line(tmp_path: Path, text: str,
                                               fragment: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text), env={})
    assert fragment in str(caught.value)
    assert "\n" not in str(caught.value)


def test_code_assistant_settings(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "[code_assistant]\nfiles_per_pass = 12\n"
                                         "positions_per_file = 4\n"), env={})
    assert (config.code_assist_files_per_pass, config.code_assist_positions_per_file) == (12, 4)
    assert Config().code_assist_files_per_pass is None
    assert Config().code_assist_positions_per_file is None


@pytest.mark.parametrize("text, fragment", [
    ("code_assistant = 3", "code_assistant must be a table"),
    ("[code_assistant]\nfiles = 3", "unknown key 'files'"),
    ("[code_assistant]\nfiles_per_pass = 0", "files_per_pass must be a whole number"),
    ("[code_assistant]\npositions_per_file = 2.5", "positions_per_file must be a whole number"),
])
def test_bad_code_assistant_config_is_one_clear_line(tmp_path: Path, text: str,
                                                     fragment: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text), env={})
    assert fragment in str(caught.value)
    assert "\n" not in str(caught.value)


def test_the_readmes_config_block_is_a_valid_config(tmp_path: Path) -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("### Configuration"):]
    start = section.index("```toml\n") + len("```toml\n")
    block = section[start:section.index("\n```", start)]
    config = load_config(write(tmp_path, block), env={})
    assert config.security_per_path_skips == (("migrations/**", ("B608",)),)
    assert (config.code_assist_files_per_pass, config.code_assist_positions_per_file) == (5, 3)


def test_metrics_interval(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[metrics]\ntextfile = 'a.prom'\ninterval = 30\n")
    config = load_config(path)
    assert (config.metrics_textfile, config.metrics_interval) == ("a.prom", 30.0)
    assert load_config(None).metrics_interval == 10.0  # the default
    path.write_text("[metrics]\ninterval = 0\n")
    with pytest.raises(ConfigError, match="interval must be greater than 0"):
        load_config(path)
