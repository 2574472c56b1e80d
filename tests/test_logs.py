"""What the log keeps and what it leaves out (core/logs.py)."""

from __future__ import annotations

import logging

import pytest


def test_a_repeating_job_s_skipped_tick_is_no_warning(caplog: pytest.LogCaptureFixture) -> None:
    scheduler = logging.getLogger("apscheduler.scheduler")
    with caplog.at_level(logging.WARNING, logger="apscheduler.scheduler"):
        scheduler.warning('Execution of job "broadcast_progress" skipped: maximum number of '
                          "running instances reached (1)")
        scheduler.warning('Run time of job "purge" was missed by 0:00:05')
    assert [r.getMessage() for r in caplog.records] == [
        'Run time of job "purge" was missed by 0:00:05']
