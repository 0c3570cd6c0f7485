"""Debezium replication of main's published tables into the replica.

`capture` says what is captured and how Debezium is configured, `apply` writes
Debezium change records into the replica (main's transactions whole), `replicator`
runs the embedded engine (pydbzengine, no Kafka), `kafka_consumer` applies the same
records read from Kafka topics, `status` reports and waits, `__main__` is the
command line (`python -m cdc_connectors`).
"""
