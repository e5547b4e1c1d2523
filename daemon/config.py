"""Configuration: the spec's ``TESTING_CONFIG`` keys as a TOML file, plus the environment.

Precedence, highest first: command-line flags, ``REALWORLD_TESTING_*`` variables,
the config file (``--config`` or ``$XDG_CONFIG_HOME/realworld/config.toml``),
the spec's defaults.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

DEFAULT_DB_PATH = "realworld_testing.db"
#: Paths settling at once before the watcher drops them and rescans instead.
DEFAULT_MAX_PENDING = 10_000
ENV_DB = "REALWORLD_TESTING_DB"
ENV_DURATION = "REALWORLD_TESTING_DURATION"
ENV_INTERVAL = "REALWORLD_TESTING_INTERVAL"
ENV_FLEET_URL = "REALWORLD_FLEET_URL"
DEFAULT_SHIP_INTERVAL = 10.0
DURABILITY_LEVELS = ("normal", "full")


#: How long a daemon's continuous session runs before it ends and the next one starts:
#: retention archives ended sessions only, so a session that never ended would keep its
#: months of events in the log.
DEFAULT_SESSION_ROTATION = timedelta(days=1)
_PERIOD = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$", re.IGNORECASE)
_PERIOD_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 7 * 86400.0}
#: Past this, datetime arithmetic overflows.
_MAX_PERIOD = timedelta(days=100 * 366)


class ConfigError(Exception):
    """A configuration we cannot use; the message is one line meant for a person."""


def parse_period(text: str) -> timedelta:
    """An age or a period as people type it: ``30d``, ``12h``, ``2w``, ``90m``, ``45s``.
    The unit is required (a bare ``30`` is minutes elsewhere and days here, so neither).
    Raises ValueError with a clear message."""
    match = _PERIOD.match(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"invalid period {text!r}: use a number and a unit, such as 30d, "
                         f"12h, 2w, 90m or 45s")
    seconds = float(match.group(1)) * _PERIOD_UNITS[match.group(2).lower()]
    if seconds <= 0:
        raise ValueError(f"invalid period {text!r}: it must be longer than zero")
    if seconds > _MAX_PERIOD.total_seconds():
        raise ValueError(f"invalid period {text!r}: at most 100 years")
    return timedelta(seconds=seconds)


def format_period(period: timedelta) -> str:
    """``30d``, ``36h``, ``90m``, ``45s``: the largest unit that says it exactly."""
    seconds = period.total_seconds()
    for unit, size in (("w", 7 * 86400.0), ("d", 86400.0), ("h", 3600.0), ("m", 60.0)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"


@dataclass(frozen=True)
class ResourceLimits:
    cpu_percent_max: float = 90.0
    memory_percent_max: float = 95.0
    disk_percent_max: float = 98.0
    consecutive_errors_max: int = 5

    def as_dict(self) -> dict[str, float | int]:
        return {
            "cpu_percent_max": self.cpu_percent_max,
            "memory_percent_max": self.memory_percent_max,
            "disk_percent_max": self.disk_percent_max,
            "consecutive_errors_max": self.consecutive_errors_max,
        }

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], where: str) -> ResourceLimits:
        merged = cls().as_dict()
        for key, value in values.items():
            if key not in merged:
                raise ConfigError(f"{where}: unknown resource limit {key!r}")
            if key == "consecutive_errors_max":
                merged[key] = _positive_int(value, f"{where}: {key}")
            else:
                number = _number(value, f"{where}: {key}")
                if not 0 < number <= 100:
                    raise ConfigError(f"{where}: {key} must be a percentage in (0, 100]")
                merged[key] = number
        return cls(
            cpu_percent_max=float(merged["cpu_percent_max"]),
            memory_percent_max=float(merged["memory_percent_max"]),
            disk_percent_max=float(merged["disk_percent_max"]),
            consecutive_errors_max=int(merged["consecutive_errors_max"]),
        )


@dataclass(frozen=True)
class Config:
    db_path: str = DEFAULT_DB_PATH
    default_duration: float = 5.0  # minutes
    monitor_interval: float = 30.0  # seconds
    resource_limits: ResourceLimits = field(default_factory=ResourceLimits)
    durability: str = "normal"  # SQLite synchronous: normal | full
    workspaces: tuple[str, ...] = ()  # what `realworld daemon` watches
    ignore: tuple[str, ...] = ()  # extra gitignore-style globs, on top of every .gitignore
    settle_ms: float = 100.0  # quiet time before a burst of events on a path counts as one
    analyzer_timeout: float = 30.0  # seconds one analyzer call may take
    max_pending: int = DEFAULT_MAX_PENDING  # paths settling at once; more: drop them, rescan
    probe_interval: float = 300.0  # seconds between periodic full passes of every analyzer
    # Every analyzer skips bigger files (and an issue names each); None: each analyzer's own
    # cap (code index 2 MiB, pattern probe 1 MiB, security scanner 8 MiB).
    max_file_bytes: int | None = None
    # Seconds one file may take the security scanner, the pattern probe or code assistance
    # (each file runs in a worker process); past it the file is skipped, retried alone,
    # then quarantined.
    file_timeout: float = 10.0
    # Retention: the daemon archives sessions that ended longer ago than this (realworld
    # archive --older-than), on a schedule; None keeps everything in the log.
    retention: timedelta | None = None
    # The daemon ends a continuous session this old and starts the next; None: never.
    session_rotation: timedelta | None = DEFAULT_SESSION_ROTATION
    # [security.per_path_skips]: gitignore-style pattern -> rule ids the scanner does not
    # report there; None: not configured, so the scanner's default (B101 in tests) applies.
    security_per_path_skips: tuple[tuple[str, tuple[str, ...]], ...] | None = None
    # [metrics] textfile: where the daemon writes node_exporter's textfile-collector
    # format after each projection refresh; None writes nothing.
    metrics_textfile: str | None = None
    metrics_interval: float = 10.0  # [metrics] interval: seconds between two writes, at least
    # [fleet]: the central PostgreSQL every machine ships its log to (a libpq URL or DSN;
    # $REALWORLD_FLEET_URL wins), the name this machine ships as (default: its host name),
    # and the seconds between the daemon's shipments.
    fleet_url: str | None = None
    fleet_machine: str | None = None
    ship_interval: float = DEFAULT_SHIP_INTERVAL
    # [compare]: the regression rule's threshold (percent), floor (ms) and significance
    # level; None: the built-in ones (daemon.read.analysis.regression).
    compare_threshold_pct: float | None = None
    compare_min_delta_ms: float | None = None
    compare_alpha: float | None = None
    # [code_assistant]: Python files asked about per pass, and positions of each request
    # kind per file; None: the analyzer's own (5 files, 3 positions).
    code_assist_files_per_pass: int | None = None
    code_assist_positions_per_file: int | None = None
    source: Path | None = None  # the file these values came from, if any
    db_path_from_file: bool = False
    # `realworld run` has its own built-in default (the spec's quick 2-minute test) and
    # takes default_duration only when a file says it.
    default_duration_from_file: bool = False


def default_config_path(env: Mapping[str, str]) -> Path:
    base = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "realworld" / "config.toml"


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{what} must be a number, not {value!r}")
    return float(value)


def _positive_int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{what} must be a whole number of at least 1, not {value!r}")
    return value


def _positive(value: Any, what: str) -> float:
    number = _number(value, what)
    if number <= 0:
        raise ConfigError(f"{what} must be greater than 0, not {value!r}")
    return number


def _period(value: Any, what: str) -> timedelta | None:
    """A period such as ``"30d"``; ``"off"`` (or ``"never"``) for none."""
    if isinstance(value, str) and value.strip().lower() in ("off", "never"):
        return None
    if not isinstance(value, str):
        raise ConfigError(f"{what} must be a string such as \"30d\" or \"off\", not {value!r}")
    try:
        return parse_period(value)
    except ValueError as exc:
        raise ConfigError(f"{what}: {exc}") from None


def _strings(value: Any, what: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(i, str) and i for i in value):
        raise ConfigError(f"{what} must be a list of non-empty strings")
    return tuple(value)


def _metrics(config: Config, table: Any, where: str) -> Config:
    """``[metrics]``: ``textfile``, the path of the Prometheus textfile, and ``interval``,
    the seconds between two writes at least."""
    if not isinstance(table, Mapping):
        raise ConfigError(f"{where} must be a table")
    for key in table:
        if key not in ("textfile", "interval"):
            raise ConfigError(f"{where}: unknown key {key!r} (known: interval, textfile)")
    if "interval" in table:
        config = replace(config, metrics_interval=_positive(table["interval"],
                                                            f"{where}: interval"))
    return replace(config, metrics_textfile=_metrics_path(table.get("textfile"), where))


def _metrics_path(path: Any, where: str) -> str | None:
    if path is None:
        return None
    if not isinstance(path, str) or not path.endswith(".prom"):
        # node_exporter's textfile collector reads *.prom files only.
        raise ConfigError(f"{where}: textfile must be a path ending in .prom, not {path!r}")
    return path


def _security(table: Any, where: str) -> tuple[tuple[str, tuple[str, ...]], ...] | None:
    """``[security]``: for now its ``per_path_skips`` table (pattern -> rule ids)."""
    from analyzers.security.skips import compile_path_skips

    if not isinstance(table, Mapping):
        raise ConfigError(f"{where} must be a table")
    for key in table:
        if key != "per_path_skips":
            raise ConfigError(f"{where}: unknown key {key!r} (known: per_path_skips)")
    if "per_path_skips" not in table:
        return None
    skips = table["per_path_skips"]
    if not isinstance(skips, Mapping):
        raise ConfigError(f"{where}: per_path_skips must be a table of pattern = [rule ids]")
    parsed = tuple((str(pattern), _strings(rules, f"{where}: per_path_skips {pattern!r}"))
                   for pattern, rules in skips.items())
    try:
        compile_path_skips(parsed, "config")
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    return parsed


def _fleet(config: Config, table: Any, where: str) -> Config:
    """``[fleet]``: ``url``, ``machine``, ``ship_interval``."""
    if not isinstance(table, Mapping):
        raise ConfigError(f"{where} must be a table")
    known = ("url", "machine", "ship_interval")
    for key in table:
        if key not in known:
            raise ConfigError(f"{where}: unknown key {key!r} (known: {', '.join(known)})")
    for key in ("url", "machine"):
        if key in table and (not isinstance(table[key], str) or not table[key].strip()):
            raise ConfigError(f"{where}: {key} must be a non-empty string")
    return replace(
        config, fleet_url=table.get("url", config.fleet_url),
        fleet_machine=table.get("machine", config.fleet_machine),
        ship_interval=_positive(table["ship_interval"], f"{where}: ship_interval")
        if "ship_interval" in table else config.ship_interval)


def resolve_fleet_url(cli_url: str | None, config: Config,
                      env: Mapping[str, str] | None = None) -> str | None:
    """``--fleet``, then ``REALWORLD_FLEET_URL``, then the config file's ``[fleet] url``."""
    env = os.environ if env is None else env
    for candidate in (cli_url, env.get(ENV_FLEET_URL), config.fleet_url):
        if candidate:
            return candidate
    return None
_COMPARE_KEYS = ("threshold", "min_delta_ms", "alpha")


def _compare(config: Config, table: Any, where: str) -> Config:
    """``[compare]``: ``threshold`` (percent), ``min_delta_ms``, ``alpha``."""
    if not isinstance(table, Mapping):
        raise ConfigError(f"{where} must be a table")
    for key in table:
        if key not in _COMPARE_KEYS:
            raise ConfigError(f"{where}: unknown key {key!r} (known: {', '.join(_COMPARE_KEYS)})")
    values = {key: _number(table[key], f"{where}: {key}") for key in table}
    for key, value in values.items():
        if not math.isfinite(value) or value < 0 or (key == "alpha" and not 0 < value <= 1):
            bound = "in (0, 1]" if key == "alpha" else ">= 0"
            raise ConfigError(f"{where}: {key} must be {bound}, not {value!r}")
    return replace(config, compare_threshold_pct=values.get("threshold"),
                   compare_min_delta_ms=values.get("min_delta_ms"),
                   compare_alpha=values.get("alpha"))
def _code_assist(config: Config, table: Any, where: str) -> Config:
    """``[code_assistant]``: how much of each pass jedi is asked about."""
    if not isinstance(table, Mapping):
        raise ConfigError(f"{where} must be a table")
    known = ("files_per_pass", "positions_per_file")
    for key in table:
        if key not in known:
            raise ConfigError(f"{where}: unknown key {key!r} (known: {', '.join(known)})")
    if "files_per_pass" in table:
        config = replace(config, code_assist_files_per_pass=_positive_int(
            table["files_per_pass"], f"{where}: files_per_pass"))
    if "positions_per_file" in table:
        config = replace(config, code_assist_positions_per_file=_positive_int(
            table["positions_per_file"], f"{where}: positions_per_file"))
    return config


def parse_config(values: Mapping[str, Any], where: str) -> Config:
    """Validate a parsed TOML document; pure."""
    config = Config()
    known = {"db_path", "default_duration", "monitor_interval", "resource_limits", "durability",
             "workspaces", "ignore", "settle_ms", "analyzer_timeout", "max_pending",
             "probe_interval", "max_file_bytes", "file_timeout", "retention", "session_rotation",
             "security", "metrics", "fleet", "compare", "code_assistant"}
    for key in values:
        if key not in known:
            raise ConfigError(f"{where}: unknown key {key!r} (known: {', '.join(sorted(known))})")
    if "db_path" in values:
        if not isinstance(values["db_path"], str) or not values["db_path"]:
            raise ConfigError(f"{where}: db_path must be a non-empty string")
        config = replace(config, db_path=values["db_path"], db_path_from_file=True)
    if "default_duration" in values:
        config = replace(config, default_duration=_positive(values["default_duration"],
                                                            f"{where}: default_duration"),
                         default_duration_from_file=True)
    if "monitor_interval" in values:
        config = replace(config, monitor_interval=_positive(values["monitor_interval"],
                                                            f"{where}: monitor_interval"))
    if "resource_limits" in values:
        table = values["resource_limits"]
        if not isinstance(table, Mapping):
            raise ConfigError(f"{where}: resource_limits must be a table")
        config = replace(config, resource_limits=ResourceLimits.from_mapping(
            table, f"{where}: resource_limits"))
    if "workspaces" in values:
        config = replace(config, workspaces=_strings(values["workspaces"],
                                                     f"{where}: workspaces"))
    if "ignore" in values:
        config = replace(config, ignore=_strings(values["ignore"], f"{where}: ignore"))
    if "settle_ms" in values:
        config = replace(config, settle_ms=_positive(values["settle_ms"], f"{where}: settle_ms"))
    if "analyzer_timeout" in values:
        config = replace(config, analyzer_timeout=_positive(values["analyzer_timeout"],
                                                            f"{where}: analyzer_timeout"))
    if "probe_interval" in values:
        config = replace(config, probe_interval=_positive(values["probe_interval"],
                                                          f"{where}: probe_interval"))
    if "max_file_bytes" in values:
        config = replace(config, max_file_bytes=_positive_int(values["max_file_bytes"],
                                                              f"{where}: max_file_bytes"))
    if "file_timeout" in values:
        config = replace(config, file_timeout=_positive(values["file_timeout"],
                                                        f"{where}: file_timeout"))
    if "max_pending" in values:
        config = replace(config, max_pending=_positive_int(values["max_pending"],
                                                           f"{where}: max_pending"))
    if "retention" in values:
        config = replace(config, retention=_period(values["retention"], f"{where}: retention"))
    if "session_rotation" in values:
        config = replace(config, session_rotation=_period(values["session_rotation"],
                                                          f"{where}: session_rotation"))
    if "security" in values:
        config = replace(config, security_per_path_skips=_security(values["security"],
                                                                   f"{where}: security"))
    if "metrics" in values:
        config = _metrics(config, values["metrics"], f"{where}: metrics")
    if "fleet" in values:
        config = _fleet(config, values["fleet"], f"{where}: fleet")
    if "compare" in values:
        config = _compare(config, values["compare"], f"{where}: compare")
    if "code_assistant" in values:
        config = _code_assist(config, values["code_assistant"], f"{where}: code_assistant")
    if "durability" in values:
        if values["durability"] not in DURABILITY_LEVELS:
            raise ConfigError(f"{where}: durability must be one of {', '.join(DURABILITY_LEVELS)}")
        config = replace(config, durability=values["durability"])
    return config


def load_config(path: str | Path | None = None,
                env: Mapping[str, str] | None = None) -> Config:
    """Read ``path`` (which must exist), else the XDG file if present, else the defaults."""
    env = os.environ if env is None else env
    if path is None:
        candidate = default_config_path(env)
        if not candidate.is_file():
            return Config()
        path = candidate
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"no config file at {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from None
    try:
        values = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    return replace(parse_config(values, str(path)), source=path)


def state_dir(env: Mapping[str, str] | None = None) -> Path:
    """``$XDG_STATE_HOME/realworld`` (``~/.local/state/realworld``)."""
    env = os.environ if env is None else env
    base = env.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "realworld"


def default_state_db(env: Mapping[str, str] | None = None) -> Path:
    """Where the daemon keeps its log: ``$XDG_STATE_HOME/realworld/realworld.db``."""
    return state_dir(env) / "realworld.db"


def hook_db(workspace: Path, env: Mapping[str, str] | None = None) -> Path:
    """Where a pre-commit hook keeps a repository's log: one file per workspace, in the
    state directory, so nothing is written into the repository being committed to."""
    name = hashlib.sha256(os.fsencode(workspace)).hexdigest()[:16]
    return state_dir(env) / "hooks" / f"{name}.db"


def resolve_db_path(cli_db: str | None, config: Config,
                    env: Mapping[str, str] | None = None, default: Path | None = None) -> Path:
    """``--db``, then ``REALWORLD_TESTING_DB``, then the config file, then the default."""
    env = os.environ if env is None else env
    from_file = config.db_path if config.db_path_from_file else None
    for candidate in (cli_db, env.get(ENV_DB), from_file):
        if candidate:
            return Path(candidate).expanduser()
    return default if default is not None else Path(DEFAULT_DB_PATH)
