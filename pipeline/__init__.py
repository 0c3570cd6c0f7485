"""Orchestration support: the quality gates, the analytics run (build -> validate -> publish), the
Airflow tasks and failure alerts that the DAGs in `dags/` are made of, and `python -m pipeline`."""
