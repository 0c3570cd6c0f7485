"""A server the tests start as a child process (gunicorn, `warehouse.serving`): its workers, its stop on SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from testkit.stack_env import descendants, identity


def wait_until(answers: Callable[[], bool], server: subprocess.Popen, log: Path, timeout: float = 30) -> None:
    """Until `answers()`; AssertionError with the server's log when it exits or `timeout` s pass first."""
    deadline = time.monotonic() + timeout
    while not answers():
        assert server.poll() is None, f"the server exited ({server.returncode}):\n{log.read_text()}"
        assert time.monotonic() < deadline, f"the server did not answer within {timeout} s:\n{log.read_text()}"
        time.sleep(0.2)


def workers(master: int) -> dict[int, str]:
    """pid -> process title (`gunicorn: worker [...]`) of the processes below `master`."""
    return {pid: found[2] for pid in descendants({master}) - {master} if (found := identity(pid))}


def forked_workers(master: int, count: int, timeout: float = 30) -> dict[int, str]:
    """`workers(master)` once `count` workers carry gunicorn's worker title: the master answers as soon as
    its first worker does, the others fork and rename themselves a moment later."""
    deadline = time.monotonic() + timeout
    while True:
        found = workers(master)
        titled = [title for title in found.values() if title.startswith("gunicorn: worker")]
        if len(titled) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def stop(server: subprocess.Popen, workers_seen: dict[int, str]) -> tuple[int, list[int]]:
    """SIGTERM to the master: its exit status (within 30 s) and the workers still alive after it."""
    server.send_signal(signal.SIGTERM)
    status = server.wait(30)
    return status, sorted(pid for pid in workers_seen if identity(pid))
