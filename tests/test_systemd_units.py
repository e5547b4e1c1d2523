"""The systemd units: `systemd-analyze verify` passes and they match what the daemon does."""

from __future__ import annotations

import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from daemon.cli.main import build_parser
from daemon.service.daemon import READY_TIMEOUT_S

ROOT = Path(__file__).resolve().parents[1]
UNIT = ROOT / "systemd" / "realworld.service"
TEMPLATE = ROOT / "systemd" / "realworld@.service"
INSTANCE = "home-user-project"  # systemd-escape --path /home/user/project

needs_systemd = pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                                   reason="systemd-analyze is not installed")


def settings(path: Path) -> dict[str, dict[str, list[str]]]:
    """Sections -> key -> values (a key may repeat), comments and blank lines dropped."""
    parsed: dict[str, dict[str, list[str]]] = {}
    section = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            parsed.setdefault(section, {})
            continue
        key, _, value = line.partition("=")
        parsed[section].setdefault(key.strip(), []).append(value.strip())
    return parsed


def seconds(value: str) -> float:
    units = {"s": 1, "min": 60, "m": 60, "h": 3600}
    for suffix, factor in sorted(units.items(), key=lambda u: -len(u[0])):
        if value.endswith(suffix):
            return float(value[: -len(suffix)]) * factor
    return float(value)


@pytest.fixture
def sandbox(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A home whose ~/.local/bin/realworld exists (verify checks ExecStart's binary) and a
    runtime directory for a user-mode manager; the units themselves stay as shipped."""
    home = tmp_path / "home"
    binary = home / ".local" / "bin" / "realworld"
    binary.parent.mkdir(parents=True)
    binary.write_text("#!/bin/sh\nexit 0\n")
    binary.chmod(0o755)
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    units = tmp_path / "units"
    units.mkdir()
    shutil.copy(UNIT, units / UNIT.name)
    shutil.copy(TEMPLATE, units / f"realworld@{INSTANCE}.service")
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": str(home),
           "XDG_RUNTIME_DIR": str(runtime), "SYSTEMD_LOG_LEVEL": "notice"}
    return units, env


@needs_systemd
@pytest.mark.parametrize("name", ["realworld.service", f"realworld@{INSTANCE}.service"])
@pytest.mark.parametrize("mode", [[], ["--user"]])
def test_systemd_analyze_verify(sandbox: tuple[Path, dict[str, str]], name: str,
                                mode: list[str]) -> None:
    units, env = sandbox
    done = subprocess.run(["systemd-analyze", *mode, "verify", str(units / name)],
                          capture_output=True, text=True, env=env, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stderr == "", done.stderr


@pytest.mark.parametrize("path", [UNIT, TEMPLATE])
def test_the_units_match_the_daemon(path: Path) -> None:
    unit = settings(path)
    service = unit["Service"]
    assert service["Type"] == ["notify"]  # the daemon sends READY=1 after its first scan
    assert service["NotifyAccess"] == ["main"]
    assert service["ExecReload"] == ["/bin/kill -HUP $MAINPID"]  # SIGHUP reloads the config
    # The daemon pings at half of WatchdogSec, and stops within 5 s of SIGTERM.
    assert seconds(service["WatchdogSec"][0]) >= 2
    assert seconds(service["TimeoutStopSec"][0]) >= 5
    # A first scan may take up to READY_TIMEOUT_S; systemd must not kill it sooner.
    assert seconds(service["TimeoutStartSec"][0]) >= READY_TIMEOUT_S
    assert service["Restart"] == ["on-failure"]
    assert service["RestartPreventExitStatus"] == ["2"]
    # Its state (log, code index) is writable inside the sandbox.
    assert service["ProtectSystem"] == ["strict"]
    assert service["StateDirectory"] == ["realworld"]
    assert service["CacheDirectory"] == ["realworld"]
    assert unit["Install"]["WantedBy"] == ["default.target"]


@pytest.mark.parametrize(("path", "expected"), [
    (UNIT, ["daemon"]),
    (TEMPLATE, ["daemon", "--workspace", "/home/user/project", "--db",
                f"/home/user/.local/state/realworld/{INSTANCE}.db"]),
])
def test_exec_start_is_a_command_line_the_cli_accepts(path: Path, expected: list[str]) -> None:
    [exec_start] = settings(path)["Service"]["ExecStart"]
    # %h, %f and %i as systemd resolves them for /home/user and the instance above.
    resolved = (exec_start.replace("%h", "/home/user").replace("%f", "/" + INSTANCE.replace(
        "-", "/")).replace("%i", INSTANCE))
    binary, *argv = shlex.split(resolved)
    assert binary == "/home/user/.local/bin/realworld"
    assert argv == expected
    args = build_parser().parse_args(argv)
    assert args.command == "daemon"
