-- Airflow's metadata database lives in the source cluster, as with `make airflow`.
CREATE DATABASE airflow;
