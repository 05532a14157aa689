"""Python client checks for tests/compat/test_python.sh.

Usage: clients.py CHECK PORT MODE. Connects to 127.0.0.1:PORT as pitlane to
database pitlane (sslmode prefer, so the SSLRequest is answered first) and
runs one check; exit status 0 when it holds. MODE is the pool mode, for
checks that depend on it.
"""
import asyncio
import sys


def dsn(port):
    return f"host=127.0.0.1 port={port} user=pitlane dbname=pitlane connect_timeout=10"


def psycopg_connect(port, mode, **kw):
    import psycopg

    conn = psycopg.connect(dsn(port), **kw)
    if mode == "transaction":
        # named prepared statements across transactions come with a later issue
        conn.prepare_threshold = None
    return conn


def psycopg_queries(port, mode):
    import psycopg

    with psycopg_connect(port, mode) as conn:
        cur = conn.cursor()
        assert cur.execute("select %s::int + 1", (41,)).fetchone() == (42,)
        assert cur.execute("select %s || %s", ("a", "b")).fetchone() == ("ab",)
        rows = cur.execute("select g, md5(g::text) from generate_series(1, %s) g", (5000,)).fetchall()
        assert len(rows) == 5000 and rows[-1][0] == 5000
        cur.execute("create temp table if not exists py_t (id int, v text)")
        cur.executemany("insert into py_t values (%s, %s)", [(i, str(i)) for i in range(200)])
        assert cur.execute("select count(*) from py_t").fetchone() == (200,)
        conn.rollback()
        try:
            cur.execute("select 1 / %s", (0,))
            raise AssertionError("no error")
        except psycopg.errors.DivisionByZero:
            conn.rollback()
        assert cur.execute("select 'after'").fetchone() == ("after",)
        conn.commit()
        info = conn.info
        assert info.parameter_status("server_version"), "no server_version"
        assert info.parameter_status("client_encoding") == "UTF8"


def psycopg_autocommit(port, mode):
    with psycopg_connect(port, mode, autocommit=True) as conn:
        cur = conn.cursor()
        cur.execute("select 1; select 2")  # simple query, several statements
        assert cur.fetchone() == (1,)
        assert cur.nextset() and cur.fetchone() == (2,)
        with conn.transaction():
            cur.execute("create temp table if not exists py_a (x int)" if mode == "session"
                        else "select 1")
        for i in range(50):
            assert cur.execute("select %s::int", (i,)).fetchone() == (i,)


def psycopg_copy(port, mode):
    with psycopg_connect(port, mode) as conn:
        cur = conn.cursor()
        cur.execute("create temp table py_copy (id int, v text)")
        with cur.copy("copy py_copy from stdin") as copy:
            for i in range(10000):
                copy.write_row((i, f"v{i}\t\\"))
        out = []
        with cur.copy("copy (select * from py_copy order by id) to stdout") as copy:
            for row in copy.rows():
                out.append(row)
        assert len(out) == 10000, len(out)
        assert out[9999] == ("9999", "v9999\t\\"), out[9999]
        conn.rollback()


def psycopg_prepared(port, mode):
    # session mode: named prepared statements live on the linked server
    with psycopg_connect(port, mode) as conn:
        cur = conn.cursor()
        for i in range(20):
            assert cur.execute("select %s::int * 2", (i,), prepare=True).fetchone() == (i * 2,)
        conn.commit()


async def _asyncpg(port):
    import asyncpg

    conn = await asyncpg.connect(host="127.0.0.1", port=port, user="pitlane",
                                 database="pitlane", timeout=10)
    try:
        assert await conn.fetchval("select $1::int * 2", 21) == 42
        rows = await conn.fetch("select g from generate_series(1, $1::int) g", 3000)
        assert len(rows) == 3000
        await conn.execute("create temp table ap (id int, v text)")
        await conn.copy_records_to_table("ap", records=[(i, str(i)) for i in range(5000)])
        assert await conn.fetchval("select count(*) from ap") == 5000
        try:
            async with conn.transaction():
                await conn.execute("insert into ap values (-1, 'x')")
                await conn.fetchval("select 1 / 0")
        except asyncpg.exceptions.DivisionByZeroError:
            pass
        assert await conn.fetchval("select count(*) from ap where id = -1") == 0
        stmt = await conn.prepare("select $1::text || 'x'")
        for i in range(20):
            assert await stmt.fetchval(str(i)) == f"{i}x"
    finally:
        await conn.close()


def asyncpg_session(port, mode):
    asyncio.run(_asyncpg(port))


CHECKS = {f.__name__: f for f in (psycopg_queries, psycopg_autocommit, psycopg_copy,
                                  psycopg_prepared, asyncpg_session)}

if __name__ == "__main__":
    CHECKS[sys.argv[1]](int(sys.argv[2]), sys.argv[3])
    print("ok")
