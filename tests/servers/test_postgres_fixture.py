"""The PostgreSQL fixtures work: a fresh database of the shared cluster takes a table through
psycopg 3, and a cluster of a test's own can be stopped (connections refused) and started
again on the same port with the same data."""

from __future__ import annotations

import psycopg
import pytest

from tests.servers.postgres import Postgres, running_postgres


def test_a_fresh_database_of_the_shared_cluster_takes_a_table(postgres: Postgres) -> None:
    url = postgres.create_database("smoke_fixture")
    assert url == f"postgresql://postgres@127.0.0.1:{postgres.port}/smoke_fixture"

    with psycopg.connect(url, connect_timeout=5) as connection:
        connection.execute("CREATE TABLE outputs (id serial PRIMARY KEY, body jsonb NOT NULL)")
        connection.execute("INSERT INTO outputs (body) VALUES (%s)", ['{"ok": true}'])
        row = connection.execute("SELECT body, current_database(), current_user FROM outputs")
        assert row.fetchone() == ({"ok": True}, "smoke_fixture", "postgres")


def test_a_cluster_of_its_own_stops_and_starts_again(postgres: Postgres) -> None:
    with running_postgres() as own:
        assert own.port != postgres.port
        url = own.create_database("survives_restart")
        with psycopg.connect(url, connect_timeout=5) as connection:
            connection.execute("CREATE TABLE kept (n int)")
            connection.execute("INSERT INTO kept VALUES (42)")

        own.stop()
        with pytest.raises(psycopg.OperationalError, match="refused"):
            psycopg.connect(url, connect_timeout=5)
        # The shared cluster is not affected.
        with psycopg.connect(postgres.url(), connect_timeout=5) as connection:
            assert connection.execute("SELECT 1").fetchone() == (1,)

        own.start()
        with psycopg.connect(url, connect_timeout=5) as connection:
            assert connection.execute("SELECT n FROM kept").fetchall() == [(42,)]
