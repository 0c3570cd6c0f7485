"""`make spark`: a local standalone Spark master and one worker, from the installed
PySpark (the pip package has no start-master.sh: spark-class runs them)."""

from __future__ import annotations

import json
import sys
import urllib.request
from pathlib import Path

from operations import services
from warehouse.settings import Settings, get_settings

SPARK_CLASS = str(Path(sys.executable).parent / "spark-class")
# spark-class finds SPARK_HOME with `python3` from PATH, which may not be this venv's: name the venv's Python.
ENV = {"SPARK_LOCAL_IP": "127.0.0.1", "SPARK_NO_DAEMONIZE": "1", "PYSPARK_PYTHON": sys.executable}


def master_url(settings: Settings) -> str:
    return f"spark://127.0.0.1:{settings.spark_standalone_port}"


def alive_workers(settings: Settings) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{settings.spark_master_ui_port}/json/", timeout=2) as answer:
            return int(json.load(answer).get("aliveworkers", 0))
    except (OSError, ValueError):
        return -1


def start(settings: Settings) -> list[str]:
    master = services.start(
        settings, "spark-master",
        [SPARK_CLASS, "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
         "--port", str(settings.spark_standalone_port), "--webui-port", str(settings.spark_master_ui_port)],
        ready=lambda: alive_workers(settings) >= 0, env=ENV)
    worker = services.start(
        settings, "spark-worker",
        [SPARK_CLASS, "org.apache.spark.deploy.worker.Worker", master_url(settings), "--host", "127.0.0.1",
         "--webui-port", str(settings.spark_worker_ui_port), "--cores", "2", "--memory", "2g",
         "--work-dir", str(Path(settings.runtime_dir) / "spark-work")],
        ready=lambda: alive_workers(settings) >= 1, env=ENV)
    return [f"spark master {master}: {master_url(settings)}, UI http://127.0.0.1:{settings.spark_master_ui_port}",
            f"spark worker {worker}: UI http://127.0.0.1:{settings.spark_worker_ui_port}"]


def stop(settings: Settings) -> list[str]:
    return [f"spark worker {services.stop(settings, 'spark-worker')}",
            f"spark master {services.stop(settings, 'spark-master')}"]


if __name__ == "__main__":
    action = sys.argv[1] if len(sys.argv) > 1 else "start"
    print("\n".join(start(get_settings()) if action == "start" else stop(get_settings())))
