"""`make spark`: the warm Spark engine, and the local standalone cluster it may run on.

The engine is a Spark Connect server (spark_scripts/submit.engine_command) on
SPARK_MASTER, the supervisor program spark-engine: analytics runs submit their
plans to it instead of starting a JVM each. With SPARK_MASTER on this machine's
standalone port (spark://127.0.0.1:SPARK_STANDALONE_PORT) a standalone master
and one worker run first (the supervisor programs spark-master and
spark-worker; the pip package has no start-master.sh: spark-class runs them).
"""

from __future__ import annotations

import json
import sys
import urllib.request
from pathlib import Path

from operations import supervisor
from operations.supervisor import Program
from spark_scripts.session import engine_answers
from spark_scripts.submit import engine_command
from warehouse.settings import Settings

SPARK_CLASS = str(Path(sys.executable).parent / "spark-class")
# spark-class finds SPARK_HOME with `python3` from PATH, which may not be this venv's: name the venv's Python.
ENV = {"SPARK_LOCAL_IP": "127.0.0.1", "SPARK_NO_DAEMONIZE": "1", "PYSPARK_PYTHON": sys.executable}
CLUSTER = ("spark-master", "spark-worker")
ENGINE = "spark-engine"
PROGRAMS = (*CLUSTER, ENGINE)
ENGINE_START_TIMEOUT_S = 120


def master_url(settings: Settings) -> str:
    return f"spark://127.0.0.1:{settings.spark_standalone_port}"


def on_local_cluster(settings: Settings) -> bool:
    """Whether SPARK_MASTER is the standalone cluster `make spark` runs here."""
    return settings.spark_master == master_url(settings)


def alive_workers(settings: Settings) -> int:
    """Workers the master counts alive; -1 when the master's UI does not answer."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{settings.spark_master_ui_port}/json/", timeout=2) as answer:
            return int(json.load(answer).get("aliveworkers", 0))
    except (OSError, ValueError):
        return -1


def healthy(settings: Settings) -> bool:
    """The engine answers (and, when it runs on the local cluster, a worker is alive)."""
    if on_local_cluster(settings) and alive_workers(settings) < 1:
        return False
    return not settings.spark_connect_url or engine_answers(settings.spark_connect_url)


def master(settings: Settings) -> Program:
    return Program("spark-master", [
        SPARK_CLASS, "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
        "--port", str(settings.spark_standalone_port), "--webui-port", str(settings.spark_master_ui_port)],
        ENV, startsecs=5)


def worker(settings: Settings) -> Program:
    return Program("spark-worker", [
        SPARK_CLASS, "org.apache.spark.deploy.worker.Worker", master_url(settings), "--host", "127.0.0.1",
        "--webui-port", str(settings.spark_worker_ui_port), "--cores", "2", "--memory", "2g",
        "--work-dir", str(Path(settings.runtime_dir) / "spark-work")], ENV, startsecs=5)


def engine(settings: Settings) -> Program:
    return Program(ENGINE, engine_command(settings), {**ENV, "PYSPARK_DRIVER_PYTHON": sys.executable},
                   startsecs=5)


def start_cluster(settings: Settings) -> str:
    """The standalone master and worker, whatever SPARK_MASTER says (for spark-submit runs on it)."""
    started_master = supervisor.start(settings, master(settings), ready=lambda: alive_workers(settings) >= 0)
    started_worker = supervisor.start(settings, worker(settings), ready=lambda: alive_workers(settings) >= 1)
    return (f"spark master {started_master}: {master_url(settings)}, UI http://127.0.0.1:"
            f"{settings.spark_master_ui_port}; spark worker {started_worker}: UI http://127.0.0.1:"
            f"{settings.spark_worker_ui_port}")


def start(settings: Settings) -> str:
    """The warm engine on SPARK_MASTER (the local cluster first when that is its master)."""
    parts = [start_cluster(settings)] if on_local_cluster(settings) else []
    if settings.spark_connect_url:
        state = supervisor.start(settings, engine(settings), ready=lambda: engine_answers(settings.spark_connect_url),
                                 timeout=ENGINE_START_TIMEOUT_S)
        parts.append(f"spark engine {state}: {settings.spark_connect_url} on {settings.spark_master}")
    else:
        parts.append("spark engine off (SPARK_CONNECT_URL is empty: runs use spark-submit)")
    return "; ".join(parts)


def stop(settings: Settings) -> str:
    return "; ".join(f"{name.replace('-', ' ')} {supervisor.stop(settings, name)}" for name in reversed(PROGRAMS))
