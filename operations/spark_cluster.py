"""`make spark`: a local standalone Spark master and one worker, from the installed PySpark (the pip
package has no start-master.sh: spark-class runs them), as the supervisor programs spark-master and
spark-worker."""

from __future__ import annotations

import json
import sys
import urllib.request
from pathlib import Path

from operations import supervisor
from operations.supervisor import Program
from warehouse.settings import Settings

SPARK_CLASS = str(Path(sys.executable).parent / "spark-class")
# spark-class finds SPARK_HOME with `python3` from PATH, which may not be this venv's: name the venv's Python.
ENV = {"SPARK_LOCAL_IP": "127.0.0.1", "SPARK_NO_DAEMONIZE": "1", "PYSPARK_PYTHON": sys.executable}
PROGRAMS = ("spark-master", "spark-worker")


def master_url(settings: Settings) -> str:
    return f"spark://127.0.0.1:{settings.spark_standalone_port}"


def alive_workers(settings: Settings) -> int:
    """Workers the master counts alive; -1 when the master's UI does not answer."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{settings.spark_master_ui_port}/json/", timeout=2) as answer:
            return int(json.load(answer).get("aliveworkers", 0))
    except (OSError, ValueError):
        return -1


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


def start(settings: Settings) -> str:
    started_master = supervisor.start(settings, master(settings), ready=lambda: alive_workers(settings) >= 0)
    started_worker = supervisor.start(settings, worker(settings), ready=lambda: alive_workers(settings) >= 1)
    return (f"spark master {started_master}: {master_url(settings)}, UI http://127.0.0.1:"
            f"{settings.spark_master_ui_port}; spark worker {started_worker}: UI http://127.0.0.1:"
            f"{settings.spark_worker_ui_port}")


def stop(settings: Settings) -> str:
    return "; ".join(f"{name.replace('-', ' ')} {supervisor.stop(settings, name)}" for name in reversed(PROGRAMS))
