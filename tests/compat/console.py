"""Console client checks for tests/compat/test_console.sh.

Usage: console.py CHECK ARGS... Each check talks to pitlane's admin console
(database pgbouncer) as a monitoring tool does and exits 0 when what the tool
demands holds (see shared admin-console.md §5 for where each rule comes from).

  psycopg2_exporter SOCKDIR PORT   Debian's prometheus-pgbouncer-exporter:
                                   psycopg2, unix socket, user pgbouncer with
                                   no password, autocommit, columns by name
  psycopg3 PORT                    psycopg 3 over TCP, as PgBouncer's tests
  go_exporter PORT USER            prometheus-community's pgbouncer_exporter
                                   v0.12.1 replayed on the wire: lib/pq's
                                   startup parameters, its query sequence, a
                                   new connection per scrape, its strictness
  same_layout PORT_A PORT_B        every SHOW has the same columns and types
                                   on both consoles (pitlane, PgBouncer 1.18)
"""
import socket
import struct
import sys

# PgBouncer 1.18's column names, for the consumers that know them.
LISTS_118 = ["databases", "users", "pools", "free_clients", "used_clients",
             "login_clients", "free_servers", "used_servers", "dns_names",
             "dns_zones", "dns_queries", "dns_pending"]


def psycopg2_exporter(sockdir, port):
    import psycopg2

    conn = psycopg2.connect(database="pgbouncer", user="pgbouncer",
                            host=sockdir, port=int(port))
    conn.set_session(autocommit=True)
    cur = conn.cursor()

    def rows(sql):
        cur.execute(sql)
        names = [d.name for d in cur.description]
        return [dict(zip(names, r)) for r in cur.fetchall()]

    for _ in range(2):  # one persistent connection, scraped repeatedly
        stats = rows("SHOW STATS;")
        for r in stats:
            for k in ("database", "total_received", "total_sent",
                      "total_query_time", "total_xact_count"):
                assert r[k] is not None, k
                if k != "database":
                    float(r[k])
        pools = rows("SHOW POOLS;")
        for r in pools:
            for k in ("database", "user", "cl_active", "cl_waiting"):
                assert r[k] is not None, k
        dbs = rows("SHOW DATABASES;")
        for r in dbs:
            assert r["database"] is not None
            float(r["pool_size"])
            float(r["reserve_pool"])
        cur.execute("SHOW LISTS;")
        lists = dict(cur.fetchall())  # exactly two columns per row
        for name in LISTS_118:
            float(lists[name])
    conn.close()


def psycopg3(port):
    import psycopg

    with psycopg.connect(f"host=127.0.0.1 port={port} user=pitlane "
                         "dbname=pgbouncer", autocommit=True) as conn:
        for cmd in ("clients config databases help lists pools servers "
                    "sockets active_sockets state stats stats_totals "
                    "stats_averages users totals mem dns_hosts dns_zones "
                    "version").split():
            conn.execute("show " + cmd)
        try:
            conn.execute("show bogus")
            raise AssertionError("show bogus succeeded")
        except psycopg.errors.ProtocolViolation:
            pass
        v = conn.execute("show version").fetchone()[0]
        assert v.startswith("PgBouncer 1.18.0"), v


class Wire:
    """The protocol as lib/pq speaks it to the console: simple queries."""

    def __init__(self, port, params):
        self.s = socket.create_connection(("127.0.0.1", int(port)), 10)
        body = struct.pack("!i", 196608)
        for k, v in params:
            body += k.encode() + b"\0" + v.encode() + b"\0"
        body += b"\0"
        self.s.sendall(struct.pack("!i", len(body) + 4) + body)
        self.buf = b""
        self.status = {}
        while True:
            t, b = self.msg()
            if t == b"E":
                raise AssertionError("login refused: %r" % b)
            if t == b"S":
                k, v = b.split(b"\0")[:2]
                self.status[k.decode()] = v.decode()
            if t == b"Z":
                break

    def recv(self, n):
        while len(self.buf) < n:
            chunk = self.s.recv(65536)
            if not chunk:
                raise AssertionError("connection closed")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def msg(self):
        t = self.recv(1)
        n = struct.unpack("!i", self.recv(4))[0]
        return t, self.recv(n - 4)

    def query(self, sql):
        """(columns [(name, oid)], rows [[bytes|None]], error or None)"""
        b = sql.encode() + b"\0"
        self.s.sendall(b"Q" + struct.pack("!i", len(b) + 4) + b)
        cols, rows, err = [], [], None
        while True:
            t, b = self.msg()
            if t == b"T":
                n = struct.unpack("!h", b[:2])[0]
                p = 2
                for _ in range(n):
                    e = b.index(b"\0", p)
                    name = b[p:e].decode()
                    oid = struct.unpack("!i", b[e + 7:e + 11])[0]
                    fmt = struct.unpack("!h", b[e + 17:e + 19])[0]
                    assert fmt == 0, "binary column"
                    cols.append((name, oid))
                    p = e + 19
            elif t == b"D":
                n = struct.unpack("!h", b[:2])[0]
                p, row = 2, []
                for _ in range(n):
                    ln = struct.unpack("!i", b[p:p + 4])[0]
                    p += 4
                    row.append(None if ln < 0 else b[p:p + ln])
                    p += max(ln, 0)
                rows.append(row)
            elif t == b"E":
                err = b
            elif t == b"Z":
                assert b == b"I", "ReadyForQuery %r" % b
                return cols, rows, err

    def close(self):
        self.s.sendall(b"X\0\0\0\4")
        self.s.close()


INT_OIDS = {20, 21, 23}
LABEL_OIDS = {20, 21, 23, 25, 700, 701, 1043}  # int, float, text


def go_scrape(port, user):
    # lib/pq v1.12.3 always sends client_encoding and datestyle; older
    # versions also extra_float_digits, which the console must ignore.
    w = Wire(port, [("user", user), ("database", "pgbouncer"),
                    ("client_encoding", "UTF8"), ("datestyle", "ISO, MDY"),
                    ("extra_float_digits", "2")])
    ver = w.status.get("server_version", "")
    major, minor = ver.split(".")[:2]
    int(major), int(minor.split("/")[0])  # lib/pq's %d.%d

    def ok(sql):
        cols, rows, err = w.query(sql)
        assert err is None, "%s: %r" % (sql, err)
        names = [c[0] for c in cols]
        for r in rows:  # int columns must scan as integers
            for (name, oid), v in zip(cols, r):
                if oid in INT_OIDS and v is not None:
                    int(v)
        return cols, names, rows

    ok("SHOW STATS")  # the ping
    cols, names, rows = ok("SHOW VERSION;")
    assert names == ["version"] and len(rows) == 1, names
    cols, names, rows = ok("SHOW LISTS;")
    assert len(cols) == 2, names
    for r in rows:
        float(r[1])
    cols, names, rows = ok("SHOW CONFIG;")
    assert len(cols) in (3, 4), names
    for r in rows:
        assert r[0] is not None and r[-1] is not None, r
        if r[0] in (b"max_client_conn", b"max_user_connections"):
            float(r[1])
    assert any(r[0] == b"max_client_conn" for r in rows)
    cols, names, rows = ok("SHOW CLIENTS;")
    for need in ("database", "user", "state"):
        assert need in names, need
    # then the three namespaces, lower case
    cols, names, rows = ok("SHOW databases;")
    assert not ("reserve_pool" in names and "reserve_pool_size" in names)
    labels = ("name", "host", "port", "database", "force_user", "pool_mode")
    for (name, oid) in cols:
        if name in labels:
            assert oid in LABEL_OIDS, (name, oid)
    keys = [r[names.index("name")] for r in rows]
    assert len(keys) == len(set(keys)), "duplicate database rows"
    for g in ("pool_size", "max_connections", "current_connections",
              "paused", "disabled"):
        for r in rows:
            float(r[names.index(g)])
    cols, names, rows = ok("SHOW stats_totals;")
    keys = [r[names.index("database")] for r in rows]
    assert len(keys) == len(set(keys)), "duplicate stats_totals rows"
    for c in ("query_count", "query_time", "bytes_received", "bytes_sent",
              "wait_time", "xact_count", "xact_time"):
        for r in rows:
            float(r[names.index(c)])
    cols, names, rows = ok("SHOW pools;")
    keys = [(r[names.index("database")], r[names.index("user")]) for r in rows]
    assert len(keys) == len(set(keys)), "duplicate pool rows"
    for c in ("cl_active", "cl_waiting", "sv_active", "sv_idle", "sv_used",
              "sv_tested", "sv_login", "maxwait"):
        for r in rows:
            float(r[names.index(c)])
    w.close()


def go_exporter(port, user):
    for _ in range(3):  # v0.11+: a new connection per scrape
        go_scrape(port, user)


SHOWS = ("pools stats stats_totals stats_averages totals servers clients "
         "sockets active_sockets databases users lists config mem version "
         "dns_hosts dns_zones client_encoding datestyle timezone "
         "standard_conforming_strings default_transaction_isolation").split()


def same_layout(port_a, port_b):
    layouts = []
    for port in (port_a, port_b):
        w = Wire(port, [("user", "pitlane"), ("database", "pgbouncer")])
        got = {}
        for cmd in SHOWS:
            cols, rows, err = w.query("SHOW " + cmd)
            assert err is None, (port, cmd, err)
            got[cmd] = cols
        w.close()
        layouts.append(got)
    bad = [c for c in SHOWS if layouts[0][c] != layouts[1][c]]
    for c in bad:
        print(c, layouts[0][c], layouts[1][c])
    assert not bad, bad


if __name__ == "__main__":
    globals()[sys.argv[1]](*sys.argv[2:])
