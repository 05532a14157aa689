"""Driver checks for tests/compat/test_txn_drivers.sh: psycopg 3 and asyncpg
through pitlane in transaction mode (and session / statement mode), with a
pool smaller than the number of concurrent clients.

Usage: txn_drivers.py GROUP PORT PGPORT MODE POOL

PORT is pitlane's, PGPORT PostgreSQL's (for looking at pg_stat_activity and
at table contents directly), MODE the pool mode pitlane runs in, POOL its
DB_POOL_MAX. Runs the checks of GROUP and prints one line per check,
"ok - NAME" or "not ok - NAME: reason"; exits 1 if any failed. Every check
is bounded (SIGALRM in the main thread, join timeouts for threads,
asyncio.wait_for for asyncpg). Run it with /usr/bin/python3 (Debian's
python3-psycopg and python3-asyncpg).
"""
import asyncio
import datetime
import decimal
import hashlib
import logging
import os
import random
import select
import signal
import sys
import threading
import time
import traceback

import psycopg
from psycopg import errors as pgerr
from psycopg import pq

PORT = PGPORT = POOL = 0
MODE = ""
failures = 0


class CheckTimeout(Exception):
    pass


def _alarm(signum, frame):
    raise CheckTimeout("check timed out")


def check(name, fn, timeout=90):
    """Runs fn(); prints ok / not ok with the mode and pool in the name."""
    global failures
    full = f"{name} ({MODE}, pool {POOL})"
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(timeout)
    try:
        fn()
        print(f"ok - {full}", flush=True)
    except BaseException as e:  # noqa: B036 - report everything, go on
        failures += 1
        reason = f"{type(e).__name__}: {e}".replace("\n", " ")[:400]
        print(f"not ok - {full}: {reason}", flush=True)
        for line in traceback.format_exc().splitlines():
            print(f"#   {line}", flush=True)
    finally:
        signal.alarm(0)


def dsn(port=None, **kw):
    s = (f"host=127.0.0.1 port={port or PORT} user=pitlane dbname=pitlane "
         "connect_timeout=10 sslmode=disable")
    for k, v in kw.items():
        s += f" {k}='{v}'"
    return s


def connect(**kw):
    return psycopg.connect(dsn(), **kw)


def direct():
    return psycopg.connect(dsn(PGPORT, application_name="txn-drivers-direct"),
                           autocommit=True)


def wait_until(pred, timeout, what):
    """Polls pred() until it is true; raises after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        if pred():
            return
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)  # polling interval


def run_threads(fns, timeout=60):
    """Runs each fn in a thread; re-raises the first exception; bounded."""
    errs = []

    def wrap(fn):
        try:
            fn()
        except BaseException as e:  # noqa: B036
            errs.append(e)

    ts = [threading.Thread(target=wrap, args=(f,), daemon=True) for f in fns]
    for t in ts:
        t.start()
    deadline = time.monotonic() + timeout
    for t in ts:
        t.join(max(0.1, deadline - time.monotonic()))
    if any(t.is_alive() for t in ts):
        raise AssertionError(f"threads still running after {timeout}s")
    if errs:
        raise errs[0]


def sqlstate_of(fn):
    try:
        fn()
    except psycopg.Error as e:
        return e.sqlstate
    return "00000"


def raw_query_sqlstate(c, sql, timeout=10):
    """Sends sql with libpq directly and returns (SQLSTATE, severity) of its
    first result. Unlike cursor.execute(), this reads an ErrorResponse that
    comes just before the connection closes (a FATAL): psycopg reports
    those without a SQLSTATE, a direct connection as well as pitlane."""
    pg = c.pgconn
    pg.send_query(sql.encode())
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        select.select([pg.socket], [], [], 0.05)
        try:
            pg.consume_input()
        except psycopg.OperationalError:
            break
        if not pg.is_busy():
            break
    r = pg.get_result()
    if r is None:
        return None, None
    if r.status in (pq.ExecStatus.TUPLES_OK, pq.ExecStatus.COMMAND_OK):
        return "00000", None
    st = r.error_field(pq.DiagnosticField.SQLSTATE)
    sev = r.error_field(pq.DiagnosticField.SEVERITY)
    return (st.decode() if st else None), (sev.decode() if sev else None)


def active_queries(like):
    with direct() as d:
        return d.execute(
            "select count(*) from pg_stat_activity where state = 'active' "
            "and query like %s and application_name <> 'txn-drivers-direct'",
            (like,)).fetchone()[0]


# ------------------------------------------------------------------ psycopg

def psycopg_parameters():
    """Parameter types round trip, text and binary, on interleaved
    connections."""
    vals = [
        ("%s::int", 42, 42),
        ("%s::bigint", 2**40, 2**40),
        ("%s::text", "it's a \"quote\" \\ é ✓", "it's a \"quote\" \\ é ✓"),
        ("%s::text", None, None),
        ("%s::bytea", b"\x00\x01\xff" * 100, b"\x00\x01\xff" * 100),
        ("%s::float8", 1.5, 1.5),
        ("%s::numeric", decimal.Decimal("12345.6789"), decimal.Decimal("12345.6789")),
        ("%s::date", datetime.date(2020, 2, 29), datetime.date(2020, 2, 29)),
        ("%s::int[]", [1, 2, 3], [1, 2, 3]),
        ("%s::jsonb->>'a'", psycopg.types.json.Jsonb({"a": "b"}), "b"),
    ]
    conns = [connect(autocommit=(i % 2 == 0)) for i in range(3)]
    try:
        for rnd in range(20):
            for i, c in enumerate(conns):
                cur = c.cursor(binary=(rnd + i) % 2 == 1)
                for sql, arg, want in vals:
                    got = cur.execute("select " + sql, (arg,)).fetchone()[0]
                    assert got == want, f"{sql}: {got!r} != {want!r}"
                got = cur.execute("select %s::int + %s::int, %s || %s",
                                  (rnd, i, "a", str(i))).fetchone()
                assert got == (rnd + i, f"a{i}"), got
                if not c.autocommit:
                    c.commit()
    finally:
        for c in conns:
            c.close()


PREP_QUERIES = [
    ("select %s::int * 2", lambda n: n * 2),
    ("select %s::int + 100", lambda n: n + 100),
    ("select %s::text || '-x'", lambda n: f"{n}-x"),
    ("select length(repeat('a', %s::int))", lambda n: n),
    ("select %s::int - 7", lambda n: n - 7),
]


def _prepared_worker(idx, rounds):
    # Each connection prepares the queries in its own order, so psycopg's
    # statement names (_pg3_0, _pg3_1, ...) mean different texts on
    # different connections.
    order = PREP_QUERIES[idx:] + PREP_QUERIES[:idx]
    with connect() as c:
        for rnd in range(rounds):
            c.autocommit = rnd % 2 == 0
            if c.autocommit:
                for sql, f in order:
                    n = rnd * 10 + idx
                    got = c.execute(sql, (str(n) if "text" in sql else n,),
                                    prepare=True).fetchone()[0]
                    assert got == f(n), f"conn {idx} round {rnd} {sql}: {got!r}"
            else:
                with c.transaction():
                    for sql, f in order:
                        n = rnd * 10 + idx
                        got = c.execute(sql, (str(n) if "text" in sql else n,),
                                        prepare=True).fetchone()[0]
                        assert got == f(n), f"conn {idx} round {rnd} {sql}: {got!r}"
                c.commit()


def psycopg_prepared():
    """prepare=True statements executed many times across transactions
    (autocommit and explicit) from connections interleaving on the pool."""
    run_threads([lambda i=i: _prepared_worker(i, 40) for i in range(4)])


def psycopg_prepared_eviction():
    """psycopg's own statement cache evicts with DEALLOCATE name when more
    than prepared_max statements were prepared."""
    with connect(autocommit=True) as c:
        c.prepared_max = 3
        for rnd in range(6):
            for k in range(8):
                got = c.execute(f"select %s::int + {k}", (rnd,),
                                prepare=True).fetchone()[0]
                assert got == rnd + k, (rnd, k, got)


def _cursor_worker(idx):
    with connect() as c:
        for rnd in range(3):
            with c.transaction():
                # the same cursor name on every connection
                cur = c.cursor(name="big", scrollable=True)
                cur.itersize = 700
                cur.execute("select g, %s::int from generate_series(1, 20000) g",
                            (idx,))
                n = 0
                other = c.cursor()
                for row in cur:
                    n += 1
                    assert row == (n, idx), (row, n, idx)
                    if n % 5000 == 0:
                        assert other.execute("select %s::int", (n,)).fetchone() == (n,)
                assert n == 20000, n
                cur.scroll(100, mode="absolute")
                assert cur.fetchone() == (101, idx)
                cur.close()
            c.commit()


def psycopg_server_cursors():
    """Named (server-side) cursors inside transactions, the same name on
    several connections at once, fetched in batches."""
    run_threads([lambda i=i: _cursor_worker(i) for i in range(3)])


def _copy_worker(idx):
    table = f"txn_copy_{idx}"
    rnd = random.Random(idx)
    rows = []
    for i in range(20000):
        v = "".join(rnd.choice("ab\t\\\n'\"é✓ ,") for _ in range(rnd.randint(0, 20)))
        rows.append((i, v))
    want = hashlib.md5("\x01".join(f"{i}\x02{v}" for i, v in rows).encode()).hexdigest()
    with connect() as c:
        c.execute(f"drop table if exists {table}")
        c.execute(f"create table {table} (id int primary key, v text)")
        c.commit()
        cur = c.cursor()
        with cur.copy(f"copy {table} (id, v) from stdin") as cp:
            for r in rows:
                cp.write_row(r)
        c.commit()
        # server-side checksum in a later transaction
        got = c.execute(
            f"select md5(string_agg(id::text || chr(2) || v, chr(1) order by id)) "
            f"from {table}").fetchone()[0]
        c.commit()
        assert got == want, f"server checksum {got} != {want}"
        # COPY out (text) in a later transaction
        out = []
        with cur.copy(f"copy (select id, v from {table} order by id) to stdout") as cp:
            for row in cp.rows():
                out.append((int(row[0]), row[1]))
        c.commit()
        got = hashlib.md5("\x01".join(f"{i}\x02{v}" for i, v in out).encode()).hexdigest()
        assert got == want, f"COPY out checksum {got} != {want} ({len(out)} rows)"
        # raw COPY out blocks, binary format
        data = bytearray()
        with cur.copy(f"copy (select id, v from {table} order by id) to stdout "
                      "(format binary)") as cp:
            for block in cp:
                data += block
        c.commit()
        assert data.startswith(b"PGCOPY\n\xff\r\n\x00"), data[:12]
        direct_data = bytearray()
        with direct() as d:
            with d.cursor().copy(f"copy (select id, v from {table} order by id) "
                                 "to stdout (format binary)") as cp:
                for block in cp:
                    direct_data += block
            d.execute(f"drop table {table}")
        assert hashlib.md5(data).digest() == hashlib.md5(direct_data).digest(), \
            "binary COPY out differs from a direct connection's"


def _small_queries(stop):
    with connect(autocommit=True) as c:
        n = 0
        while not stop.is_set() or n < 20:
            assert c.execute("select %s::int", (n,)).fetchone() == (n,)
            n += 1


def psycopg_copy():
    """COPY in and out (text and binary) with checksums, two copiers and a
    third connection querying meanwhile on the pool."""
    stop = threading.Event()
    errs = []

    def copiers():
        try:
            run_threads([lambda i=i: _copy_worker(i) for i in range(2)])
        except BaseException as e:  # noqa: B036
            errs.append(e)
        finally:
            stop.set()

    run_threads([copiers, lambda: _small_queries(stop)])
    if errs:
        raise errs[0]


def psycopg_sqlstates():
    """SQLSTATEs and error fields reach the client unchanged, extended and
    simple protocol, autocommit and in transactions."""
    with direct() as d:
        d.execute("drop table if exists txn_uniq")
        d.execute("create table txn_uniq (id int constraint txn_uniq_pk primary key)")
        d.execute("insert into txn_uniq values (1)")
    with connect() as c, connect(autocommit=True) as other:
        for rnd in range(4):
            for cls in (psycopg.Cursor, psycopg.ClientCursor):
                for autocommit in (True, False):
                    c.autocommit = autocommit
                    cur = cls(c)
                    cases = [
                        ("select 1 / %s::int" if cls is psycopg.Cursor else "select 1 / %s",
                         (0,), "22012", pgerr.DivisionByZero),
                        ("insert into txn_uniq values (%s)", (1,), "23505",
                         pgerr.UniqueViolation),
                        ("select * from txn_no_such_table where x = %s", (1,),
                         "42P01", pgerr.UndefinedTable),
                    ]
                    for sql, args, state, exc in cases:
                        try:
                            cur.execute(sql, args)
                            raise AssertionError(f"{sql}: no error")
                        except exc as e:
                            assert e.sqlstate == state, (sql, e.sqlstate)
                            if state == "23505":
                                assert e.diag.constraint_name == "txn_uniq_pk", \
                                    e.diag.constraint_name
                                assert e.diag.table_name == "txn_uniq", e.diag.table_name
                            if state == "42P01":
                                assert "txn_no_such_table" in e.diag.message_primary
                        if not autocommit:
                            st = sqlstate_of(lambda: cur.execute("select 1"))
                            assert st == "25P02", f"in failed transaction: {st}"
                            c.rollback()
                        assert other.execute("select %s::int", (rnd,)).fetchone() == (rnd,)
                        assert cur.execute("select 'after'").fetchone() == ("after",)
                        if not autocommit:
                            c.commit()
    with direct() as d:
        assert d.execute("select count(*) from txn_uniq").fetchone() == (1,)
        d.execute("drop table txn_uniq")


def psycopg_cancel():
    """conn.cancel() of a running pg_sleep(10): 57014 quickly, only on the
    connection cancelled, which goes on working."""
    a, b = connect(autocommit=True), connect(autocommit=True)
    try:
        res = {}

        def sleeper(name, conn):
            t0 = time.monotonic()
            res[name] = (sqlstate_of(lambda: conn.execute(
                "select pg_sleep(10) /* txn-cancel */")), t0)
            res[name + "_end"] = time.monotonic()

        ta = threading.Thread(target=sleeper, args=("a", a), daemon=True)
        tb = threading.Thread(target=sleeper, args=("b", b), daemon=True)
        ta.start()
        tb.start()
        wait_until(lambda: active_queries("select pg_sleep(10) /* txn-cancel */%") == 2,
                   5, "both pg_sleep(10) running")
        t0 = time.monotonic()
        a.cancel()
        ta.join(5)
        assert not ta.is_alive(), "cancelled query still running after 5 s"
        took = res["a_end"] - t0
        assert res["a"][0] == "57014", f"cancelled: SQLSTATE {res['a'][0]}"
        assert took < 2, f"cancel took {took:.2f}s"
        # b still runs
        assert tb.is_alive(), "the other connection's query ended too"
        assert active_queries("select pg_sleep(10) /* txn-cancel */%") == 1
        assert a.execute("select 'after cancel'").fetchone() == ("after cancel",)
        b.cancel()
        tb.join(5)
        assert not tb.is_alive() and res["b"][0] == "57014", res.get("b")
        assert b.execute("select 2").fetchone() == (2,)
        wait_until(lambda: active_queries("select pg_sleep(10)%") == 0, 5,
                   "no pg_sleep left running")
    finally:
        a.close()
        b.close()


SESSIONS = [
    # application_name, TimeZone, DateStyle, how the connect sets them
    ("txn-app-0", "Asia/Tokyo", "ISO, MDY", "options"),
    ("txn-app-1", "America/New_York", "SQL, DMY", "kwargs"),
    ("txn-app-2", "UTC", "German, DMY", "options"),
    ("txn-app-3", "Europe/Paris", "Postgres, MDY", "kwargs"),
]
DATE_TEXT = {"ISO": "2020-01-02", "SQL": "02/01/2020", "German": "02.01.2020",
             "Postgres": "01-02-2020"}
TZ_OFFSET = {"Asia/Tokyo": "09:00", "America/New_York": "19:00",
             "UTC": "00:00", "Europe/Paris": "01:00", "Australia/Sydney": "11:00",
             "Pacific/Auckland": "13:00", "America/Los_Angeles": "16:00",
             "Asia/Kolkata": "05:30"}


def _session_connect(app, tz, ds, how):
    # a backslash escapes the space: the canonical spelling, as reported
    ds = ds.replace(" ", "\\ ")
    opts = f"-c TimeZone={tz} -c DateStyle={ds}"
    if how == "options":
        opts += f" -c application_name={app}"
        return connect(options=opts)
    return connect(application_name=app, options=opts)


def _session_expect(c, want, where):
    app, tz, ds = want
    cur = c.cursor()
    row = cur.execute(
        "select current_setting('application_name'), current_setting('TimeZone'), "
        "current_setting('DateStyle'), '2020-01-02'::date::text, "
        "to_char('2020-01-01 00:00:00+00'::timestamptz, 'HH24:MI')").fetchone()
    got = (row[0], row[1], row[2])
    assert got == (app, tz, ds), f"{where}: settings {got} != {want}"
    assert row[3] == DATE_TEXT[ds.split(",")[0]], f"{where}: {ds}: date {row[3]}"
    assert row[4] == TZ_OFFSET[tz], f"{where}: {tz}: time {row[4]}"
    ps = c.info.parameter_status
    assert (ps("application_name"), ps("TimeZone"), ps("DateStyle")) == want, \
        f"{where}: ParameterStatus {(ps('application_name'), ps('TimeZone'), ps('DateStyle'))} != {want}"


def _session_worker(idx, iterations):
    app, tz, ds, how = SESSIONS[idx]
    rnd = random.Random(1000 + idx)
    want = (app, tz, ds)
    with _session_connect(app, tz, ds, how) as c:
        c.autocommit = True
        _session_expect(c, want, "after connect")
        for it in range(iterations):
            where = f"conn {idx} iteration {it}"
            op = rnd.randrange(7)
            if op == 0:  # SET in autocommit
                want = (f"txn-app-{idx}-{it}", rnd.choice(list(TZ_OFFSET)),
                        rnd.choice(["ISO, DMY", "SQL, DMY", "German, DMY",
                                    "Postgres, MDY", "ISO, MDY"]))
                c.execute(f"set application_name = '{want[0]}'")
                c.execute(f"set timezone = '{want[1]}'")
                c.execute(f"set datestyle = '{want[2]}'")
            elif op == 1:  # SET in a committed transaction
                want = (f"txn-app-{idx}-t{it}", rnd.choice(list(TZ_OFFSET)), want[2])
                with c.transaction():
                    c.execute(f"set application_name = '{want[0]}'")
                    c.execute(f"set timezone = '{want[1]}'")
                    _session_expect(c, want, where + " (inside)")
            elif op == 2:  # SET in a transaction rolled back: reverts
                c.autocommit = False
                c.execute("set application_name = 'rolled-back'")
                c.execute("set timezone = 'Asia/Kolkata'")
                c.rollback()
                c.autocommit = True
            elif op == 3:  # SET LOCAL: reverts at commit
                with c.transaction():
                    c.execute("set local timezone = 'Asia/Kolkata'")
                    c.execute("select 1")
            elif op == 4:  # a transaction holding its server a while
                with c.transaction():
                    _session_expect(c, want, where + " (in transaction)")
                    c.execute("select pg_sleep(0.005)")
                    _session_expect(c, want, where + " (in transaction)")
            _session_expect(c, want, where)


def psycopg_session_params():
    """Each connection sees its own application_name / TimeZone / DateStyle
    (set at connect, by options or as connection parameters, then changed
    with SET, SET LOCAL, SET rolled back) on every query, while the
    connections interleave on the pool; never another's."""
    run_threads([lambda i=i: _session_worker(i, 150) for i in range(len(SESSIONS))],
                timeout=80)


REPORTED = ("application_name", "client_encoding", "DateStyle", "IntervalStyle",
            "TimeZone", "standard_conforming_strings", "integer_datetimes",
            "server_encoding", "is_superuser", "session_authorization")
STARTUPS = [
    {"options": "-c DateStyle=ISO,MDY -c IntervalStyle=SQL_STANDARD"},
    {"options": "-c DateStyle=iso,dmy -c TimeZone=asia/tokyo",
     "application_name": "ps-a"},
    {"options": "--DateStyle=sql,mdy -c timezone=UTC -c client_encoding=latin1"},
    {"application_name": "ps-b", "client_encoding": "UTF8"},
    {"options": "-c IntervalStyle=postgres_verbose -c TimeZone=Europe/Paris"},
]


def _reported(c):
    return {k: c.info.parameter_status(k) for k in REPORTED}


def psycopg_parameter_status():
    """The ParameterStatus values a client gets at login and after SET are
    those of a direct connection with the same startup parameters (the
    server's spelling), whatever the previous user of the server set."""
    diffs = []

    def compare(what, got, want):
        for k in REPORTED:
            if got[k] != want[k]:
                diffs.append(f"{what} {k}: {got[k]!r} (direct {want[k]!r})")

    for rnd in range(2):
        for kw in STARTUPS:
            with psycopg.connect(dsn(PGPORT), autocommit=True, **kw) as d:
                want = _reported(d)
                d.execute("set datestyle = 'postgres, dmy'")
                d.execute("set intervalstyle = 'iso_8601'")
                want_set = _reported(d)
            with connect(autocommit=True, **kw) as c:
                compare(f"[round {rnd} {kw} login]", _reported(c), want)
                c.execute("set datestyle = 'postgres, dmy'")
                c.execute("set intervalstyle = 'iso_8601'")
                compare(f"[round {rnd} {kw} after SET]", _reported(c), want_set)
    assert not diffs, "; ".join(diffs)


def psycopg_pipeline():
    """psycopg's pipeline mode: several queries, one Sync, errors."""
    def worker(idx):
        with connect(autocommit=True) as c:
            for rnd in range(20):
                with c.pipeline():
                    curs = [c.execute("select %s::int * %s::int", (i, idx))
                            for i in range(10)]
                    ins = c.execute("select %s::text", (f"p{rnd}",))
                for i, cur in enumerate(curs):
                    assert cur.fetchone() == (i * idx,), (i, idx)
                assert ins.fetchone() == (f"p{rnd}",)
                try:
                    with c.pipeline():
                        c.execute("select 1")
                        c.execute("select 1 / %s::int", (0,))
                        c.execute("select 2")
                    raise AssertionError("no error from the pipeline")
                except pgerr.DivisionByZero:
                    pass
                assert c.execute("select 'after'").fetchone() == ("after",)
                with c.transaction(), c.pipeline():
                    c.execute("select 1")
                    c.execute("select 2")
    run_threads([lambda i=i: worker(i) for i in range(4)])


# ------------------------------------------------------------------ asyncpg

async def _asyncpg_task(idx, iterations):
    import asyncpg
    queries = [
        ("select $1::int * $2::int", lambda a, b: a * b),
        ("select $1::int + $2::int", lambda a, b: a + b),
        ("select $1::int - $2::int", lambda a, b: a - b),
        ("select ($1::int)::text || ':' || ($2::int)::text", lambda a, b: f"{a}:{b}"),
        ("select greatest($1::int, $2::int)", lambda a, b: max(a, b)),
    ]
    # Each task prepares in its own order: asyncpg's statement names
    # (__asyncpg_stmt_N__) stand for different texts on different connections.
    random.Random(idx).shuffle(queries)
    conn = await asyncpg.connect(host="127.0.0.1", port=PORT, user="pitlane",
                                 database="pitlane", timeout=20)
    try:
        for it in range(iterations):
            for sql, f in queries:
                got = await conn.fetchval(sql, idx, it)
                assert got == f(idx, it), (idx, it, sql, got)
            rows = await conn.fetch("select g, $1::text from generate_series(1, $2::int) g",
                                    f"t{idx}", 50 + it)
            assert len(rows) == 50 + it and rows[-1][0] == 50 + it and rows[0][1] == f"t{idx}"
            if it % 3 == 0:
                async with conn.transaction():
                    await conn.execute("insert into txn_ap values ($1, $2)", idx, it)
                    n = await conn.fetchval("select count(*) from txn_ap where task = $1", idx)
                    assert n == it // 3 + 1, (idx, it, n)
            if it % 5 == 0:
                stmt = await conn.prepare("select $1::int * 3")
                for k in range(3):
                    assert await stmt.fetchval(k + it) == 3 * (k + it)
    finally:
        await conn.close()


async def _asyncpg_concurrent():
    import asyncpg
    d = await asyncpg.connect(host="127.0.0.1", port=PGPORT, user="pitlane",
                              database="pitlane", timeout=10)
    await d.execute("drop table if exists txn_ap; create table txn_ap (task int, it int)")
    results = await asyncio.gather(*[_asyncpg_task(i, 30) for i in range(50)],
                                   return_exceptions=True)
    errs = [r for r in results if isinstance(r, BaseException)]
    n = await d.fetchval("select count(*) from txn_ap")
    await d.execute("drop table txn_ap")
    await d.close()
    if errs:
        raise AssertionError(f"{len(errs)} of 50 tasks failed; first: "
                             f"{type(errs[0]).__name__}: {errs[0]}")
    assert n == 50 * 10, f"{n} rows inserted, want 500"


def asyncpg_concurrent():
    """50 concurrent asyncpg connections (default statement cache) running
    parameterised queries, transactions and prepared statements."""
    asyncio.run(asyncio.wait_for(_asyncpg_concurrent(), 100))


async def _asyncpg_settings_task(idx):
    import asyncpg
    tzs = list(TZ_OFFSET)
    app, tz = f"ap-{idx}", tzs[idx % len(tzs)]
    conn = await asyncpg.connect(host="127.0.0.1", port=PORT, user="pitlane",
                                 database="pitlane", timeout=20,
                                 server_settings={"application_name": app,
                                                  "TimeZone": tz,
                                                  "DateStyle": "SQL, DMY"})
    try:
        ds = "SQL, DMY"
        for it in range(40):
            if it == 20:
                app, tz, ds = f"ap-{idx}-set", tzs[(idx + 3) % len(tzs)], "German, DMY"
                await conn.execute(f"set application_name = '{app}'")
                await conn.execute(f"set timezone = '{tz}'")
                await conn.execute(f"set datestyle = '{ds}'")
            row = await conn.fetchrow(
                "select current_setting('application_name') a, "
                "current_setting('TimeZone') t, current_setting('DateStyle') d, "
                "to_char('2020-01-01 00:00:00+00'::timestamptz, 'HH24:MI') h, $1::int i",
                it)
            assert (row["a"], row["t"], row["d"], row["h"], row["i"]) == \
                (app, tz, ds, TZ_OFFSET[tz], it), (idx, it, dict(row))
            s = conn.get_settings()
            assert (s.application_name, s.TimeZone, s.DateStyle) == (app, tz, ds), \
                (idx, it, s.application_name, s.TimeZone, s.DateStyle)
            if it % 4 == 0:
                async with conn.transaction():
                    await conn.fetchval("select pg_sleep(0.002)")
    finally:
        await conn.close()


def asyncpg_server_settings():
    """asyncpg connections with server_settings (application_name, TimeZone,
    DateStyle), later changed with SET, each seeing its own."""
    async def main():
        res = await asyncio.gather(*[_asyncpg_settings_task(i) for i in range(12)],
                                   return_exceptions=True)
        errs = [r for r in res if isinstance(r, BaseException)]
        if errs:
            raise AssertionError(f"{len(errs)} of 12 tasks failed; first: "
                                 f"{type(errs[0]).__name__}: {errs[0]}")
    asyncio.run(asyncio.wait_for(main(), 60))


# ------------------------------------------------------------- statement mode

def statement_single():
    """Statement mode: single statements (simple, extended, prepared) from
    more connections than servers."""
    def worker(idx):
        with connect(autocommit=True) as c:
            for it in range(50):
                assert c.execute("select %s::int + %s::int", (idx, it)).fetchone() == (idx + it,)
                assert c.execute("select %s::int * 2", (it,), prepare=True).fetchone() == (it * 2,)
                assert psycopg.ClientCursor(c).execute(
                    "select %s::text", (f"s{it}",)).fetchone() == (f"s{it}",)
    run_threads([lambda i=i: worker(i) for i in range(5)])


def _all_results(c, sql, timeout=10):
    """Sends sql with libpq directly; returns the SQLSTATEs of all its
    results ("00000" for success), of errors arriving after them (seen by
    the notice receiver), and whether the connection closed."""
    states = []
    c.add_notice_handler(lambda d: states.append(d.sqlstate))
    pg = c.pgconn
    pg.send_query(sql.encode())
    closed = False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            pg.consume_input()
        except psycopg.OperationalError:
            closed = True
        while not pg.is_busy():
            r = pg.get_result()
            if r is None:
                break
            if r.status in (pq.ExecStatus.TUPLES_OK, pq.ExecStatus.COMMAND_OK):
                states.append("00000")
            else:
                st = r.error_field(pq.DiagnosticField.SQLSTATE)
                states.append(st.decode() if st else None)
        if closed or pg.status == pq.ConnStatus.BAD:
            return states, True
        select.select([pg.socket], [], [], 0.05)
    return states, False


def statement_begin_refused():
    """Statement mode: a transaction block gets ERROR 0A000, pitlane rolls
    it back, and the connection stays usable (not in a transaction);
    other connections are unaffected."""
    with connect(autocommit=True) as other:
        for sql in ("BEGIN", "select 1; begin", "START TRANSACTION"):
            with connect(autocommit=True) as c:
                states, closed = _all_results(c, sql)
                assert "0A000" in states and not closed, f"{sql}: {states}, closed {closed}"
                assert c.info.transaction_status == pq.TransactionStatus.IDLE, sql
                assert c.execute("select %s::int", (8,)).fetchone() == (8,), sql
            assert other.execute("select %s::int", (7,)).fetchone() == (7,)


def statement_begin_driver_error():
    """Statement mode: the driver reports 0A000 as the error of the
    statement that opened the transaction (psycopg, implicit and explicit
    BEGIN), not as a bare "server closed the connection"."""
    for how in ("implicit", "explicit"):
        with connect(autocommit=(how == "explicit")) as c:
            try:
                c.execute("begin" if how == "explicit" else "select 1")
                c.execute("select 2")
                raise AssertionError(f"{how} BEGIN accepted")
            except psycopg.Error as e:
                assert e.sqlstate == "0A000", f"{how}: SQLSTATE {e.sqlstate}: {e}"
                assert "statement pooling" in str(e), str(e)


# ------------------------------------------------------------------ timeouts

def wait_async_error(c, timeout):
    """Waits for an ErrorResponse arriving on an idle connection (libpq hands
    it to the notice receiver) or for the connection to close; returns the
    SQLSTATE seen (None if none) and the time it arrived."""
    seen = []
    c.add_notice_handler(lambda d: seen.append(d.sqlstate))
    deadline = time.monotonic() + timeout
    pg = c.pgconn
    while not seen and time.monotonic() < deadline:
        r, _, _ = select.select([c.fileno()], [], [], 0.02)
        if not r:
            continue
        try:
            pg.consume_input()
            pg.is_busy()
        except psycopg.OperationalError:
            break
    if not seen:  # closed: the error may still come with the next query
        st = sqlstate_of(lambda: c.execute("select 1"))
        if st != "00000":
            seen.append(st)
    return (seen[0] if seen else None), time.monotonic()


def idle_transaction_timeout():
    """idle_transaction_timeout (0.3 s): a client idle in a transaction is
    ended with 25P03 and its transaction rolled back; busy transactions and
    idle clients outside transactions are left alone."""
    with direct() as d:
        d.execute("create table if not exists txn_itt (id int)")
        d.execute("delete from txn_itt")
    with connect() as c:
        # not idle: a statement running longer than the timeout
        c.execute("insert into txn_itt values (1)")
        c.execute("select pg_sleep(0.6)")
        c.commit()
        # idle, but outside any transaction
        t0 = time.monotonic()
        while time.monotonic() - t0 < 0.7:
            r, _, _ = select.select([c.fileno()], [], [], 0.7)
            if r:
                raise AssertionError("idle connection outside a transaction got a message")
        assert c.execute("select count(*) from txn_itt").fetchone() == (1,)
        c.commit()
    c = connect()
    try:
        c.execute("insert into txn_itt values (2)")
        t0 = time.monotonic()
        st, t1 = wait_async_error(c, 5)
        assert st == "25P03", f"SQLSTATE {st}"
        assert 0.25 <= t1 - t0 < 3, f"ended after {t1 - t0:.2f}s"
    finally:
        c.close()
    with direct() as d:
        wait_until(lambda: d.execute(
            "select count(*) from pg_stat_activity where state like 'idle in transaction%%' "
            "and datname = 'pitlane'").fetchone()[0] == 0, 5,
            "no server idle in transaction")
        rows = d.execute("select id from txn_itt order by id").fetchall()
        assert rows == [(1,)], f"rows {rows}: the aborted insert survived"
        d.execute("drop table txn_itt")
    with connect(autocommit=True) as c:
        assert c.execute("select 'pool still works'").fetchone() == ("pool still works",)


def query_timeout():
    """query_timeout (0.3 s): a longer query gets 57014, is cancelled on the
    server; shorter ones pass."""
    with connect(autocommit=True) as c:
        for _ in range(3):
            assert c.execute("select pg_sleep(0.05), 1").fetchone()[1] == 1
    c = connect(autocommit=True)
    try:
        t0 = time.monotonic()
        st, sev = raw_query_sqlstate(c, "select pg_sleep(5) /* txn-qt */")
        took = time.monotonic() - t0
        assert (st, sev) == ("57014", "FATAL"), f"SQLSTATE {st} {sev}"
        assert 0.25 <= took < 3, f"ended after {took:.2f}s"
    finally:
        c.close()
    wait_until(lambda: active_queries("select pg_sleep(5) /* txn-qt */%") == 0, 5,
               "the timed-out query to stop on the server")
    with connect(autocommit=True) as c:
        assert c.execute("select 'pool still works'").fetchone() == ("pool still works",)


def client_idle_timeout():
    """client_idle_timeout (0.3 s): an idle client gets 57P05; a client
    active more often is left alone."""
    with connect(autocommit=True) as c:
        t0 = time.monotonic()
        while time.monotonic() - t0 < 1.0:
            assert c.execute("select 1").fetchone() == (1,)
            time.sleep(0.1)  # the client's think time, below the timeout
    c = connect(autocommit=True)
    try:
        c.execute("select 1")
        t0 = time.monotonic()
        st, t1 = wait_async_error(c, 5)
        assert st == "57P05", f"SQLSTATE {st}"
        assert 0.25 <= t1 - t0 < 3, f"ended after {t1 - t0:.2f}s"
    finally:
        c.close()


GROUPS = {
    "psycopg": [
        ("psycopg: parameters of many types, text and binary", psycopg_parameters),
        ("psycopg: prepare=True across transactions, 4 connections", psycopg_prepared),
        ("psycopg: prepared statement cache eviction (DEALLOCATE)", psycopg_prepared_eviction),
        ("psycopg: server-side cursors in transactions", psycopg_server_cursors),
        ("psycopg: COPY in/out with checksums", psycopg_copy),
        ("psycopg: SQLSTATEs 22012 23505 42P01 preserved", psycopg_sqlstates),
        ("psycopg: conn.cancel() of pg_sleep(10)", psycopg_cancel),
        ("psycopg: pipeline mode", psycopg_pipeline),
        ("psycopg: ParameterStatus values as on a direct connection",
         psycopg_parameter_status),
        ("psycopg: own application_name/TimeZone/DateStyle on every query",
         psycopg_session_params),
    ],
    "asyncpg": [
        ("asyncpg: 50 concurrent tasks, statement cache", asyncpg_concurrent),
        ("asyncpg: server_settings and SET, own values", asyncpg_server_settings),
    ],
    "statement": [
        ("statement mode: single statements", statement_single),
        ("statement mode: BEGIN refused with ERROR 0A000", statement_begin_refused),
        ("statement mode: psycopg sees 0A000 as its BEGIN's error",
         statement_begin_driver_error),
    ],
    "idle_transaction_timeout": [
        ("idle_transaction_timeout: 25P03, transaction rolled back",
         idle_transaction_timeout),
    ],
    "query_timeout": [("query_timeout: 57014, query cancelled", query_timeout)],
    "client_idle_timeout": [("client_idle_timeout: 57P05", client_idle_timeout)],
}


def main():
    global PORT, PGPORT, MODE, POOL
    # psycopg logs the errors it drops when closing an aborted pipeline
    logging.getLogger("psycopg").setLevel(logging.CRITICAL)
    group = sys.argv[1]
    PORT, PGPORT, MODE, POOL = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
    only = os.environ.get("TXN_DRIVERS_ONLY")
    for name, fn in GROUPS[group]:
        if only and only not in name:
            continue
        check(name, fn)
    sys.stdout.flush()
    # threads left hanging by a failed check must not keep the process alive
    os._exit(1 if failures else 0)


if __name__ == "__main__":
    main()
