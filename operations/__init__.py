"""Operations of one machine: the local PostgreSQL clusters, the process supervisor running every other
component, Airflow as a service, the standalone Spark cluster, `make up/down/status/logs/clean`."""
