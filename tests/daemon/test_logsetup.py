"""One handler, one format: structlog events and library records alike, minus expected noise."""

from __future__ import annotations

import io
import json
import logging
import os
import secrets
import string
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from analyzers.common.secrets.redact import mask
from daemon.logsetup import configure_logging


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    yield from configured("info")


def configured(level: str) -> Iterator[io.StringIO]:
    root, scheduler = logging.getLogger(), logging.getLogger("apscheduler")
    handlers, levels = root.handlers[:], (root.level, scheduler.level)
    stream = io.StringIO()
    configure_logging(level=level, stream=stream, json_lines=True)
    try:
        yield stream
    finally:
        root.handlers = handlers
        root.setLevel(levels[0])
        scheduler.setLevel(levels[1])
        structlog.reset_defaults()


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_structlog_and_library_records_are_json_lines(captured: io.StringIO) -> None:
    structlog.get_logger("realworld.test").info("session_started", session_id="s-1")
    logging.getLogger("somelib").warning("disk %s", "slow")
    first, second = lines(captured)
    assert first["event"] == "session_started" and first["session_id"] == "s-1"
    assert first["level"] == "info" and "timestamp" in first
    assert second["event"] == "disk slow" and second["level"] == "warning"


def test_an_overlapping_periodic_job_is_not_reported_as_a_fault(captured: io.StringIO) -> None:
    scheduler_log = logging.getLogger("apscheduler.scheduler")
    scheduler_log.warning('Execution of job "%s" skipped: maximum number of running '
                          'instances reached (%d)', "RealWorldTester.catch_up", 1)
    scheduler_log.warning('Run time of job "%s" was missed by %s', "sample", "0:00:03")
    [kept] = lines(captured)
    assert "was missed by" in str(kept["event"])


def test_a_periodic_job_running_as_planned_says_nothing(captured: io.StringIO) -> None:
    executor_log = logging.getLogger("apscheduler.executors.default")
    executor_log.info('Running job "%s"', "RealWorldTester._scheduled_catch_up")
    executor_log.info('Job "%s" executed successfully', "RealWorldTester._scheduled_catch_up")
    executor_log.error('Job "%s" raised an exception', "Session._sample")
    [kept] = lines(captured)
    assert kept["level"] == "error"


def test_debug_shows_the_runs_of_periodic_jobs() -> None:
    for stream in configured("debug"):
        logging.getLogger("apscheduler.executors.default").info('Running job "%s"', "sample")
        assert "Running job" in stream.getvalue()


def test_no_line_holds_a_secret_in_clear(captured: io.StringIO) -> None:
    token = "ghp_" + "".join(secrets.choice(string.ascii_letters + string.digits)
                             for _ in range(36))
    log = structlog.get_logger("realworld.test")
    log.warning("odd_file", detail=f"cannot parse: GITHUB_TOKEN = '{token}'",
                nested={"lines": [f"token={token}"]})
    try:
        raise ValueError(f"bad line: {token}")
    except ValueError:
        log.exception("analyzer_crashed")
        logging.getLogger("somelibrary").exception("library saw %s", token)
    output = captured.getvalue()
    assert token not in output
    # The values, both messages and both tracebacks.
    assert output.count(json.dumps(mask(token))[1:-1]) >= 5
    records = lines(captured)
    assert records[0]["nested"] == {"lines": [f"token={mask(token)}"]}
    assert "ValueError" in str(records[1]["exception"])


class Terminal(io.StringIO):
    """A stream that says it is a terminal, as a console renderer's stream would."""

    def isatty(self) -> bool:
        return True


def restoring() -> tuple[list[logging.Handler], tuple[int, int]]:
    return logging.getLogger().handlers[:], (logging.getLogger().level,
                                             logging.getLogger("apscheduler").level)


def restore(saved: tuple[list[logging.Handler], tuple[int, int]]) -> None:
    handlers, (root_level, scheduler_level) = saved
    logging.getLogger().handlers = handlers
    logging.getLogger().setLevel(root_level)
    logging.getLogger("apscheduler").setLevel(scheduler_level)
    structlog.reset_defaults()


def test_every_line_names_its_logger(captured: io.StringIO) -> None:
    structlog.get_logger("realworld.run").info("session_started")
    logging.getLogger("watchdog.observers").warning("a library record")
    assert [line["logger"] for line in lines(captured)] == ["realworld.run",
                                                           "watchdog.observers"]


def test_lines_to_the_journal_start_with_their_syslog_priority(tmp_path: Path) -> None:
    saved = restoring()
    with (tmp_path / "journal").open("w+") as stream:
        status = os.fstat(stream.fileno())
        configure_logging(stream=stream, json_lines=True,
                          env={"JOURNAL_STREAM": f"{status.st_dev}:{status.st_ino}"})
        try:
            log = structlog.get_logger("realworld.daemon")
            log.info("ready")
            log.warning("log_not_private")
            log.error("session_failed")
        finally:
            restore(saved)
        stream.seek(0)
        written = stream.read().splitlines()
    assert [line[:3] for line in written] == ["<6>", "<4>", "<3>"]
    assert json.loads(written[1][3:])["event"] == "log_not_private"


def test_a_stream_that_is_not_the_journal_gets_no_prefix(tmp_path: Path) -> None:
    # JOURNAL_STREAM is inherited: a redirected stdout under systemd is a plain file.
    saved = restoring()
    with (tmp_path / "redirected").open("w+") as stream:
        configure_logging(stream=stream, json_lines=True, env={"JOURNAL_STREAM": "1:2"})
        try:
            structlog.get_logger("realworld.run").warning("slow")
        finally:
            restore(saved)
        stream.seek(0)
        assert json.loads(stream.read())["event"] == "slow"


@pytest.mark.parametrize(("env", "coloured"), [({}, True), ({"NO_COLOR": "1"}, False)])
def test_no_color_turns_colour_off_on_a_terminal(env: dict[str, str], coloured: bool) -> None:
    saved = restoring()
    terminal = Terminal()
    configure_logging(stream=terminal, env=env)
    try:
        structlog.get_logger("realworld.run").warning("slow")
    finally:
        restore(saved)
    assert ("\x1b[" in terminal.getvalue()) is coloured, terminal.getvalue()
