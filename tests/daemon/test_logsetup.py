"""One handler, one format: structlog events and library records alike, minus expected noise."""

from __future__ import annotations

import io
import json
import logging
import secrets
import string
from collections.abc import Iterator

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
