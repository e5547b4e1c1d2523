"""The systemd units: `systemd-analyze verify` passes and they match what the daemon does."""

from __future__ import annotations

import contextlib
import functools
import os
import re
import shlex
import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from daemon.cli.main import build_parser
from daemon.service.daemon import READY_TIMEOUT_S

from waiting import wait_for

ROOT = Path(__file__).resolve().parents[1]
UNIT = ROOT / "systemd" / "realworld.service"
TEMPLATE = ROOT / "systemd" / "realworld@.service"
SYSTEM = ROOT / "systemd" / "realworld-system.service"
#: ``systemd-analyze security``'s "OK" band ends here (issue: at most 4.0 for the units).
EXPOSURE_AIM = 4.0
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


@pytest.mark.parametrize("path", [UNIT, TEMPLATE, SYSTEM])
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
    assert unit["Install"]["WantedBy"] == (["multi-user.target"] if path == SYSTEM
                                           else ["default.target"])
    # Everything it creates is private, whatever the manager's umask.
    assert service["UMask"] == ["0077"]


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


@needs_systemd
def test_the_system_unit_verifies_with_its_binary_in_place(
        sandbox: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    # verify checks that ExecStart's binary exists: point it at a stand-in, nothing else.
    units, env = sandbox
    binary = tmp_path / "bin" / "realworld"
    binary.parent.mkdir()
    binary.write_text("#!/bin/sh\nexit 0\n")
    binary.chmod(0o755)
    unit = units / "realworld.service"
    unit.write_text(SYSTEM.read_text().replace("/usr/local/bin/realworld", str(binary)))
    done = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True,
                          text=True, env=env, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stderr == "", done.stderr


def test_the_system_unit_keeps_its_files_where_the_daemon_looks_for_them() -> None:
    service = settings(SYSTEM)["Service"]
    assert service["User"] == ["realworld"] and service["Group"] == ["realworld"]
    [exec_start] = service["ExecStart"]
    binary, *argv = shlex.split(exec_start)
    assert binary == "/usr/local/bin/realworld" and argv == ["daemon"]
    # %S and %C are /var/lib and /var/cache for a system unit.
    env = dict(pair.split("=", 1) for line in service["Environment"]
               for pair in shlex.split(line))
    assert env["XDG_CONFIG_HOME"] == "/etc"
    assert env["XDG_STATE_HOME"] == "%S" and env["XDG_CACHE_HOME"] == "%C"
    assert service["StateDirectoryMode"] == ["0700"]
    assert service["CacheDirectoryMode"] == ["0700"]


def exposure(unit: Path) -> float:
    done = subprocess.run(["systemd-analyze", "security", "--offline=true", str(unit)],
                          capture_output=True, text=True, timeout=60, check=False)
    match = re.search(r"Overall exposure level for \S+: (\d+(?:\.\d+)?) ", done.stdout)
    assert match is not None, done.stdout + done.stderr
    return float(match.group(1))


needs_offline_security = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None or subprocess.run(
        ["systemd-analyze", "security", "--help"], capture_output=True, text=True,
        check=False).stdout.find("--offline") < 0,
    reason="systemd-analyze security --offline needs systemd 250 or later")


@needs_offline_security
@pytest.mark.parametrize("path", [UNIT, TEMPLATE, SYSTEM])
def test_systemd_rates_the_units_ok(path: Path) -> None:
    assert exposure(path) <= EXPOSURE_AIM


@functools.cache
def members(group: str) -> frozenset[str]:
    """The system calls of a systemd group (``@system-service``), nested groups expanded;
    cached: the units share their groups, and each listing is a process."""
    listing = subprocess.run(["systemd-analyze", "syscall-filter", group],
                             capture_output=True, text=True, timeout=60, check=True).stdout
    names: set[str] = set()
    for line in listing.splitlines()[1:]:
        name = line.strip()
        if not name or name.startswith("#"):
            continue
        names |= members(name) if name.startswith("@") else {name}
    return frozenset(names)


def allowed_system_calls(unit: Path) -> set[str]:
    """The calls the unit's SystemCallFilter= lines let through, expanded by systemd."""
    allowed: set[str] = set()
    for line in settings(unit)["Service"]["SystemCallFilter"]:
        deny = line.startswith("~")
        calls: set[str] = set()
        for item in line.lstrip("~").split():
            calls |= members(item) if item.startswith("@") else {item}
        allowed = allowed - calls if deny else allowed | calls
    return allowed


def activities(log: Path) -> int:
    conn = sqlite3.connect(f"file:{log}?mode=ro", uri=True)
    try:
        return int(conn.execute("SELECT COUNT(*) FROM events "
                                "WHERE type = 'activity_recorded'").fetchone()[0])
    except sqlite3.Error:
        return 0  # not created yet
    finally:
        conn.close()


def traced_calls(trace: Path) -> set[str]:
    calls = set()
    for line in trace.read_text(errors="replace").splitlines():
        match = re.match(r"\d+ +([a-z_0-9]+)\(", line)
        if match:
            calls.add(match.group(1))
    return calls


# SQLite chowns its journal to the database's owner only when it runs as root, which the
# units never do (and a filtered call fails with EPERM, which SQLite ignores).
ROOT_ONLY_CALLS = frozenset({"fchown"})


@needs_systemd
@pytest.mark.skipif(shutil.which("strace") is None, reason="strace is not installed")
def test_every_system_call_of_the_daemon_passes_the_units_filter(tmp_path: Path) -> None:
    workspace = tmp_path / "workspace"
    shutil.copytree(ROOT / "analyzers" / "common", workspace)
    config = tmp_path / "config.toml"
    config.write_text(f"workspaces = [{str(workspace)!r}]\nprobe_interval = 1\n"
                      "[resource_limits]\ncpu_percent_max = 100\n"
                      "memory_percent_max = 100\ndisk_percent_max = 100\n")
    trace = tmp_path / "trace"
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state"),
           "XDG_CACHE_HOME": str(tmp_path / "cache"), "PYTHONPATH": str(ROOT)}
    log = tmp_path / "log.db"
    stdout, stderr = tmp_path / "stdout.txt", tmp_path / "stderr.txt"
    with stdout.open("w") as out_file, stderr.open("w") as err_file:  # files: never fill up
        traced = subprocess.Popen(
            ["strace", "-f", "-qq", "-o", str(trace), sys.executable, "-m", "daemon",
             "daemon", "--config", str(config), "--db", str(log)],
            stdout=out_file, stderr=err_file, text=True, env=env)
    try:
        # Ready (its first scan done), an edit analysed, periodic passes: then stop.
        wait_for(lambda: '"ready"' in stdout.read_text() or traced.poll() is not None,
                 timeout=120)
        (workspace / "walk.py").write_text((workspace / "walk.py").read_text() + "\nX = 1\n")
        seen = activities(log)
        wait_for(lambda: activities(log) > seen + 2 or traced.poll() is not None, timeout=60)
    finally:
        # SIGTERM to the daemon itself: strace would detach and leave it running.
        with contextlib.suppress(psutil.Error):
            for child in psutil.Process(traced.pid).children():
                child.send_signal(signal.SIGTERM)
        traced.wait(timeout=60)
    out, err = stdout.read_text(), stderr.read_text()
    if "PTRACE" in err and "not permitted" in err:
        pytest.skip(f"this machine does not allow ptrace: {err.strip()[:200]}")
    assert traced.returncode == 0, err
    assert '"ready"' in out, out + err
    calls = traced_calls(trace)
    assert {"inotify_add_watch", "openat", "clone3"} & calls  # the trace saw real work
    for path in (UNIT, TEMPLATE, SYSTEM):
        assert calls - allowed_system_calls(path) <= ROOT_ONLY_CALLS, path.name
