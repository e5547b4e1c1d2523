"""What the workspace itself says it accepts: its bandit config and its detect-secrets baseline.

Users of bandit and detect-secrets already wrote down what they accept; reading it
means the scanner agrees with the tools they run in CI. Both are read from the
workspace root only, as files, and each problem is kept as one line naming the file and
what was ignored (the scan goes on without that part):

* bandit: ``.bandit`` (bandit reads it by itself: an INI ``[bandit]`` section with
  ``skips``, ``tests``, ``exclude`` and ``configfile``; a ``.bandit`` that is not INI is
  read as bandit's YAML config, which is how ``bandit -c .bandit`` reads it), then the
  config file, which is the INI's ``configfile`` or else ``pyproject.toml``'s
  ``[tool.bandit]`` (what ``bandit -c pyproject.toml`` reads). As bandit does, the
  INI's ``tests``/``skips`` add to the config file's, and its ``exclude`` to
  ``exclude_dirs``. Every other key of the config file is a plugin option
  (``hardcoded_tmp_directory: {tmp_dirs: [...]}``) handed to bandit's rules as is.
* detect-secrets: ``.secrets.baseline``, its ``results`` (file name -> entries with
  ``hashed_secret``, the SHA-1 of the secret). Line numbers and types are not compared:
  a recorded secret stays accepted when it moves, and an edited one hashes differently.

bandit's own functions do the reading (``BanditConfig`` validates and converts legacy
configs, ``parse_ini_file`` reads the INI, ``BanditTestSet`` decides what ``tests`` and
``skips`` select, ``B001`` included); bandit is imported only for a workspace that has a
bandit config at all.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

BANDIT_INI = ".bandit"
PYPROJECT = "pyproject.toml"
DETECT_SECRETS_BASELINE = ".secrets.baseline"
#: A config file bigger than this is not a config file; it is not read.
MAX_CONFIG_BYTES = 4 << 20
# Keys of bandit's config that choose tests and files; every other key is a plugin's option.
_SELECTION_KEYS = frozenset({"tests", "skips", "exclude_dirs", "include", "profiles",
                             "plugin_name_pattern", "log_format"})


@dataclass(frozen=True)
class BanditSettings:
    """The workspace's bandit configuration as the scanner applies it."""

    source: str = ""  # the files it came from, e.g. "pyproject.toml"; empty: none
    tests: frozenset[str] = frozenset()  # as written (bandit: only these run)
    skips: frozenset[str] = frozenset()
    hidden_rules: frozenset[str] = frozenset()  # bandit test ids that tests/skips leave out
    exclude: tuple[str, ...] = ()  # bandit's exclude_dirs globs (and the INI's exclude)
    plugin_options: str = ""  # canonical JSON of the plugins' options; empty: defaults
    problems: tuple[str, ...] = ()
    files: tuple[str, ...] = ()  # a config file that .bandit names (watched for changes)

    @property
    def configured(self) -> bool:
        return bool(self.source)


@dataclass(frozen=True)
class DetectSecretsBaseline:
    """The secrets a detect-secrets baseline accepts: file name -> SHA-1s of the values."""

    path: Path | None = None  # None: the workspace has none
    accepted: Mapping[str, frozenset[str]] = field(default_factory=dict)
    problem: str = ""  # why the file was not applied; empty when it was

    def for_path(self, path: str) -> frozenset[str]:
        return self.accepted.get(path, frozenset())

    @property
    def entries(self) -> int:
        return sum(len(hashes) for hashes in self.accepted.values())


# --- bandit ---------------------------------------------------------------------------


def read_bandit_settings(root: Path) -> BanditSettings:
    """``root``'s bandit configuration; a broken part is a problem and is left out."""
    problems: list[str] = []
    sources: list[str] = []
    ini: dict[str, str] = {}
    config: dict[str, Any] | None = None
    config_name: str | None = None
    ini_path = root / BANDIT_INI
    if ini_path.is_file():
        ini, config = _read_dot_bandit(ini_path, problems)
        if ini or config is not None:
            sources.append(BANDIT_INI)
        if config is not None:
            config_name = BANDIT_INI
    if config is None and ini.get("configfile"):
        config_name = ini["configfile"].strip()
        config = _read_config_file(root / config_name, config_name, problems)
    elif config is None:
        table = _pyproject_bandit_table(root / PYPROJECT, problems)
        if table is not None:
            config_name = f"{PYPROJECT} [tool.bandit]"
            config = _read_config_file(root / PYPROJECT, config_name, problems)
    if config is not None and config_name is not None and config_name not in sources:
        sources.append(config_name)
    named = (ini["configfile"].strip(),) if ini.get("configfile") else ()
    if not sources:
        return BanditSettings(problems=tuple(problems), files=named)
    where = " + ".join(sources)
    config = config or {}
    tests = _ids(config.get("tests"), f"{config_name} tests", problems)
    skips = _ids(config.get("skips"), f"{config_name} skips", problems)
    tests |= frozenset(_comma_list(ini.get("tests")))
    skips |= frozenset(_comma_list(ini.get("skips")))
    exclude = list(_globs(config.get("exclude_dirs"), f"{config_name} exclude_dirs", problems))
    for entry in _comma_list(ini.get("exclude")):
        exclude.append(entry)
        if (root / entry).is_dir():  # as bandit does for a directory named on its command line
            exclude.append(entry.rstrip("/") + "/*")
    hidden = _hidden_rules(tests, skips, where, problems)
    if hidden is None:  # bandit refuses to run such a selection; we run every rule
        tests = skips = frozenset()
        hidden = frozenset()
    return BanditSettings(source=where, tests=tests, skips=skips, hidden_rules=hidden,
                          exclude=tuple(dict.fromkeys(exclude)),
                          plugin_options=_plugin_options(config, config_name or where,
                                                         problems),
                          problems=tuple(problems), files=named)


def _read_dot_bandit(path: Path, problems: list[str]
                     ) -> tuple[dict[str, str], dict[str, Any] | None]:
    """The INI options of ``.bandit``, or its YAML config; ``({}, None)`` if neither."""
    _quiet_bandit()  # before bandit is imported: importing it loads its plugins
    from bandit.core import utils as b_utils

    ini = b_utils.parse_ini_file(str(path))
    if isinstance(ini, dict):
        return {str(k): str(v) for k, v in ini.items()}, None
    config = _read_config_file(path, BANDIT_INI, [])
    if config is None:
        problems.append(f"{BANDIT_INI} is neither an INI file with a [bandit] section nor a "
                        "YAML bandit config; ignored")
    return {}, config


def _pyproject_bandit_table(path: Path, problems: list[str]) -> Mapping[str, Any] | None:
    """``[tool.bandit]`` if ``pyproject.toml`` has one (read without importing bandit)."""
    try:
        if not path.is_file() or path.stat().st_size > MAX_CONFIG_BYTES:
            return None
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        return None
    except tomllib.TOMLDecodeError:
        problems.append(f"{PYPROJECT} is not valid TOML; its [tool.bandit] is ignored")
        return None
    tool = document.get("tool")
    table = tool.get("bandit") if isinstance(tool, dict) else None
    if table is not None and not isinstance(table, dict):
        problems.append(f"{PYPROJECT} [tool.bandit] is not a table; ignored")
        return None
    return table


def _read_config_file(path: Path, name: str, problems: list[str]) -> dict[str, Any] | None:
    """bandit's config in ``path`` (TOML for ``*.toml``, else YAML), read by bandit."""
    _quiet_bandit()  # before bandit is imported: importing it loads its plugins
    from bandit.core import config as b_config
    from bandit.core import utils as b_utils

    try:
        if path.stat().st_size > MAX_CONFIG_BYTES:
            problems.append(f"{name} is larger than {MAX_CONFIG_BYTES} bytes; ignored")
            return None
        loaded = b_config.BanditConfig(config_file=str(path))
    except OSError:
        problems.append(f"{name} cannot be read; ignored")
        return None
    except (b_utils.ConfigError, ValueError, TypeError, AttributeError) as exc:
        # bandit raises ConfigError for what it checks and lets the rest escape (a list
        # where it expects a table).
        problems.append(f"{name} is not a bandit config ({type(exc).__name__}); ignored")
        return None
    config = loaded.config
    return dict(config) if isinstance(config, dict) else None


def _ids(value: Any, where: str, problems: list[str]) -> frozenset[str]:
    if value is None:
        return frozenset()
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return frozenset(v.strip() for v in value if v.strip())
    problems.append(f"{where} must be a list of test ids such as [\"B101\"]; ignored")
    return frozenset()


def _globs(value: Any, where: str, problems: list[str]) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(v for v in value if v)
    problems.append(f"{where} must be a list of paths or globs; ignored")
    return ()


def _comma_list(text: str | None) -> tuple[str, ...]:
    """An INI value as bandit splits it: on commas."""
    return tuple(dict.fromkeys(part.strip() for part in (text or "").split(",")
                               if part.strip()))


def _hidden_rules(tests: frozenset[str], skips: frozenset[str], where: str,
                  problems: list[str]) -> frozenset[str] | None:
    """The bandit test ids ``tests``/``skips`` leave out; None when bandit would refuse."""
    if not tests and not skips:
        return frozenset()
    _quiet_bandit()
    from bandit.core import config as b_config
    from bandit.core import extension_loader as b_extensions
    from bandit.core import test_set as b_test_set

    manager = b_extensions.MANAGER
    for test_id in sorted(tests | skips):
        if not manager.check_id(test_id):
            problems.append(f"{where}: unknown test id {test_id!r} (bandit ignores it too)")
    both = tests & skips
    if both:
        problems.append(f"{where}: {', '.join(sorted(both))} both in tests and in skips "
                        "(bandit refuses to run); tests and skips ignored")
        return None
    every: set[str] = set(manager.plugins_by_id) | set(manager.builtin)
    for entries in manager.blacklist.values():
        every.update(entry["id"] for entry in entries)
    # bandit's own reading of a profile (B001 stands for every blacklist test); private,
    # but it is the one place that says what a selection means.
    selected = b_test_set.BanditTestSet._get_filter(
        b_config.BanditConfig(), {"include": set(tests), "exclude": set(skips)})
    return frozenset(every - set(selected))


def _plugin_options(config: Mapping[str, Any], where: str, problems: list[str]) -> str:
    options: dict[str, Any] = {}
    for key, value in config.items():
        if key in _SELECTION_KEYS:
            continue
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError):
            problems.append(f"{where}: option {key!r} is not plain data; ignored")
            continue
        options[str(key)] = value
    if not options:
        return ""
    return json.dumps(options, sort_keys=True, separators=(",", ":"))


def _quiet_bandit() -> None:
    """bandit logs what it cannot parse; here each problem is ours to report, once."""
    from analyzers.security.bandit_logging import quiet_bandit_logging

    quiet_bandit_logging()


# --- detect-secrets ---------------------------------------------------------------------


def read_detect_secrets_baseline(root: Path) -> DetectSecretsBaseline:
    """``root/.secrets.baseline``; missing is empty, a bad one is empty with a problem
    (a broken baseline must not hide findings)."""
    path = root / DETECT_SECRETS_BASELINE
    try:
        if path.stat().st_size > MAX_CONFIG_BYTES:
            return DetectSecretsBaseline(path, problem=(
                f"{DETECT_SECRETS_BASELINE} is larger than {MAX_CONFIG_BYTES} bytes; ignored"))
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return DetectSecretsBaseline()
    except (OSError, UnicodeDecodeError) as exc:
        return DetectSecretsBaseline(path, problem=(
            f"{DETECT_SECRETS_BASELINE} cannot be read ({type(exc).__name__}); ignored"))
    try:
        document = json.loads(text)
    except ValueError:
        return DetectSecretsBaseline(path, problem=f"{DETECT_SECRETS_BASELINE} is not JSON; "
                                                   "ignored")
    accepted = _accepted(document, root)
    if accepted is None:
        return DetectSecretsBaseline(path, problem=(
            f"{DETECT_SECRETS_BASELINE} is not a detect-secrets baseline (no \"results\" of "
            "file name -> entries with \"hashed_secret\"); ignored"))
    return DetectSecretsBaseline(path, accepted)


def _accepted(document: Any, root: Path) -> dict[str, frozenset[str]] | None:
    results = document.get("results") if isinstance(document, dict) else None
    if not isinstance(results, dict):
        return None
    accepted: dict[str, set[str]] = {}
    for filename, entries in results.items():
        if not isinstance(entries, list):
            return None
        hashes = set()
        for entry in entries:
            if not isinstance(entry, dict) or not isinstance(entry.get("hashed_secret"), str):
                return None
            hashes.add(entry["hashed_secret"].lower())
        accepted.setdefault(_relative(str(filename), root), set()).update(hashes)
    return {name: frozenset(hashes) for name, hashes in accepted.items() if hashes}


def _relative(filename: str, root: Path) -> str:
    """detect-secrets names files as it was given them: ``./a.py`` or an absolute path
    when scanned so; ours are relative to the root, "/"-separated."""
    name = filename.replace("\\", "/")
    candidate = Path(name)
    if candidate.is_absolute():
        try:
            name = candidate.relative_to(root).as_posix()
        except ValueError:
            return name
    while name.startswith("./"):
        name = name[2:]
    return name
