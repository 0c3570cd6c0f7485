"""Serving a WSGI app with gunicorn: the `serve` of the dashboard and of the login service.

`python -m dashboard serve` and `python -m flask_endpoint serve` run `serve` in the foreground; the
supervisor runs the same commands (`make up`), and so do the Docker images.

- gunicorn's gthread worker: a master forks `workers` processes, each building its own app with
  `factory()` (so each holds its own database connections) and answering with `threads` threads.
- The access log goes to stdout, gunicorn's own messages and the app's logging to stderr (the supervisor
  writes both to `<RUNTIME_DIR>/logs/<program>.log`); every line passes through `redact` first.
- SIGTERM (supervisord's and `docker stop`'s stop signal) stops it gracefully: no new connection is
  taken, the requests in progress get GRACEFUL_TIMEOUT_S to finish, the workers exit, then the
  master, with status 0. Ctrl-C (SIGINT) stops at once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger

GRACEFUL_TIMEOUT_S = 20  # below supervisord's stopwaitsecs (30 s), after which it kills the whole group
# Common Log Format and the time taken, without referrer and user agent.
ACCESS_LOG_FORMAT = '%(h)s - - %(t)s "%(r)s" %(s)s %(b)s %(M)sms'
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class _Redacting(logging.Filter):
    """Rewrites each record's message with `redact` (a record is formatted once, here)."""

    def __init__(self, redact: Callable[[str], str]):
        super().__init__()
        self.redact = redact

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = self.redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


class _Logger(Logger):
    """gunicorn's logger; the filter (set per `serve`) on its handlers and the root logger's."""

    redacting: logging.Filter | None = None

    def setup(self, cfg) -> None:
        super().setup(cfg)
        if self.redacting is not None:
            for handler in (*self.error_log.handlers, *self.access_log.handlers, *logging.getLogger().handlers):
                handler.addFilter(self.redacting)


class _Server(BaseApplication):
    """gunicorn configured from `options` only (no config file, no GUNICORN_CMD_ARGS, no command line)."""

    def __init__(self, factory: Callable[[], Callable], options: dict):
        self.factory, self.options = factory, options
        super().__init__()

    def load_config(self) -> None:
        for name, value in self.options.items():
            self.cfg.set(name, value)

    def load(self) -> Callable:
        return self.factory()


def _bind_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def serve(factory: Callable[[], Callable], *, name: str, host: str, port: int, workers: int, threads: int,
          redact: Callable[[str], str] | None = None, on_worker_exit: Callable[[Callable], None] | None = None,
          ready_message: str = "", access_log: bool = True) -> None:
    """Serve the app each worker builds with `factory()` on host:port until SIGTERM or Ctrl-C.

    `name` shows in the processes' titles (`gunicorn: master [name]`, `gunicorn: worker [name]`);
    `on_worker_exit(app)` runs in each worker as it stops; `ready_message` is printed once listening;
    `access_log=False`: no line per request (errors are still logged)."""
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    logger = type("Logger", (_Logger,), {"redacting": _Redacting(redact) if redact else None})

    def worker_exit(_arbiter, worker) -> None:
        if on_worker_exit is not None and getattr(worker, "wsgi", None) is not None:
            on_worker_exit(worker.wsgi)

    def when_ready(_arbiter) -> None:
        if ready_message:
            print(ready_message, flush=True)

    _Server(factory, {
        "bind": [_bind_address(host, port)], "worker_class": "gthread", "workers": workers, "threads": threads,
        "graceful_timeout": GRACEFUL_TIMEOUT_S, "proc_name": name, "logger_class": logger,
        "accesslog": "-" if access_log else None, "errorlog": "-", "access_log_format": ACCESS_LOG_FORMAT,
        "worker_exit": worker_exit, "when_ready": when_ready,
        "control_socket_disable": True,  # gunicornc is not used; its default socket is one per home folder
    }).run()
