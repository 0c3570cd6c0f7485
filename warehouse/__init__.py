"""The ground every component stands on: settings, database schemas and
migrations, the local PostgreSQL clusters, the listening generator and the
source -> main load."""
