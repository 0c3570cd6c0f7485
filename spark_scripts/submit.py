"""Launch the analytics job with spark-submit on SPARK_MASTER (one place for the command)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from spark_scripts import job
from spark_scripts.session import JVM_OPTIONS, postgres_jdbc_jar
from warehouse.settings import Settings, get_settings


def submit_command(settings: Settings, full: bool = False, stage_only: bool = False) -> list[str]:
    spark_submit = Path(sys.executable).parent / "spark-submit"
    return [str(spark_submit), "--master", settings.spark_master, "--driver-memory", settings.spark_driver_memory,
            "--driver-java-options", JVM_OPTIONS, "--conf", f"spark.executor.extraJavaOptions={JVM_OPTIONS}",
            "--jars", postgres_jdbc_jar(), "--conf", "spark.ui.showConsoleProgress=false",
            job.__file__, *(["--full"] if full else []), *(["--stage-only"] if stage_only else [])]


def submit(settings: Settings | None = None, full: bool = False, stage_only: bool = False
           ) -> subprocess.CompletedProcess:
    """Run the job to completion; raise CalledProcessError (with its output) when it fails."""
    settings = settings or get_settings()
    env = dict(os.environ, PYSPARK_PYTHON=sys.executable, PYSPARK_DRIVER_PYTHON=sys.executable)
    env.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    return subprocess.run(submit_command(settings, full, stage_only), env=env, check=True, text=True,
                          capture_output=True)


if __name__ == "__main__":
    result = submit(full="--full" in sys.argv)
    print("\n".join(line for line in result.stdout.splitlines() if line and not line.startswith("INFO ")))
