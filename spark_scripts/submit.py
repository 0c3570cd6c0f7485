"""Launch the analytics job with spark-submit on SPARK_MASTER (one place for the command)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from spark_scripts import job
from spark_scripts.session import JVM_OPTIONS, postgres_jdbc_jar
from warehouse.settings import Settings


def submit_command(settings: Settings, full: bool = False) -> list[str]:
    spark_submit = Path(sys.executable).parent / "spark-submit"
    return [str(spark_submit), "--master", settings.spark_master, "--driver-memory", settings.spark_driver_memory,
            "--driver-java-options", JVM_OPTIONS, "--conf", f"spark.executor.extraJavaOptions={JVM_OPTIONS}",
            "--jars", postgres_jdbc_jar(), "--conf", "spark.ui.showConsoleProgress=false",
            job.__file__, *(["--full"] if full else [])]


def submit(settings: Settings, full: bool = False) -> subprocess.CompletedProcess:
    """Stage a run to completion; raise CalledProcessError (with its output) when the job fails."""
    env = dict(os.environ, PYSPARK_PYTHON=sys.executable, PYSPARK_DRIVER_PYTHON=sys.executable)
    env.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    return subprocess.run(submit_command(settings, full), env=env, check=True, text=True, capture_output=True)
