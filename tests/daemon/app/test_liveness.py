"""Telling whether the process that runs a session is still there."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

import psutil

from daemon.app.liveness import process_alive

HOST = socket.gethostname()


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds")


def test_this_process_is_alive() -> None:
    assert process_alive(os.getpid(), HOST) is True
    assert process_alive(os.getpid(), HOST, iso(datetime.now(timezone.utc))) is True


def test_another_host_or_no_pid_cannot_be_told() -> None:
    assert process_alive(os.getpid(), HOST + "-elsewhere") is None
    assert process_alive(None, HOST) is None
    assert process_alive(os.getpid(), None) is None


def test_a_finished_process_is_gone() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait(30)
    assert process_alive(child.pid, HOST) is False


def test_an_unreaped_child_is_gone() -> None:
    # A zombie still has its pid and its create time, but it runs nothing.
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        deadline = time.monotonic() + 30
        while psutil.Process(child.pid).status() != psutil.STATUS_ZOMBIE:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        assert process_alive(child.pid, HOST) is False
    finally:
        child.wait(30)


def test_a_pid_reused_by_a_younger_process_is_gone() -> None:
    # The session recorded this pid long before the process that has it now was born.
    long_ago = datetime.now(timezone.utc) - timedelta(days=365)
    assert process_alive(os.getpid(), HOST, iso(long_ago)) is False
    born = psutil.Process().create_time()
    just_after_birth = datetime.fromtimestamp(born + 0.5, timezone.utc)
    assert process_alive(os.getpid(), HOST, iso(just_after_birth)) is True


def test_an_unreadable_since_does_not_declare_a_live_process_dead() -> None:
    assert process_alive(os.getpid(), HOST, "yesterday-ish") is True
    assert process_alive(os.getpid(), HOST, "") is True
