"""Helpers for tests/compat/test_observe.sh: HTTP clients well-behaved and
hostile, and a fake systemd NOTIFY_SOCKET. Standard library only.

  notify-listen PATH OUT     bind a unix datagram socket at PATH, append each
                             message to OUT (newlines as \\n), until killed
  get PORT PATH              one GET; prints "STATUS BODY"
  probe PORT PATH N          N sequential GETs; prints "STATUS COUNT" lines
  hostile PORT               oversized headers, bad methods, garbage; prints
                             one "name status" line each
  idle PORT N READY          opens N idle connections, writes "open N eof M"
                             to READY (M: closed by the server within 2 s),
                             then holds them until killed
  cancel PITLANE_PORT PG_PORT   a query canceled through pitlane; prints
                             "canceled" when it got 57014
  fds PID PG_PORT            descriptors of PID, not counting its TCP
                             connections to PG_PORT (the pool's servers)
"""
import http.client
import os
import select
import socket
import sys
import time


def notify_listen(path, out):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    if os.path.exists(path):
        os.unlink(path)
    s.bind(path)
    os.chmod(path, 0o777)
    with open(out, "a", buffering=1) as f:
        f.write("LISTENING\n")
        while True:
            msg = s.recv(4096).decode("utf-8", "replace")
            f.write(msg.replace("\n", "\\n") + "\n")


def get(port, path, method="GET"):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request(method, path)
    r = c.getresponse()
    body = r.read().decode("utf-8", "replace")
    c.close()
    return r.status, body


def probe(port, path, n):
    counts = {}
    for _ in range(n):
        try:
            status, _ = get(port, path)
        except OSError as e:
            status = type(e).__name__
        counts[status] = counts.get(status, 0) + 1
    for status, count in sorted(counts.items(), key=str):
        print(status, count)


def raw(port, data, wait=5.0):
    """Sends raw bytes; returns the status line's code, or EOF/TIMEOUT."""
    s = socket.create_connection(("127.0.0.1", port), timeout=wait)
    try:
        s.sendall(data)
    except OSError:
        pass
    buf = b""
    try:
        while b"\r\n" not in buf:
            chunk = s.recv(4096)
            if not chunk:
                break
            buf += chunk
    except socket.timeout:
        return "TIMEOUT"
    except OSError:
        return "RESET"
    finally:
        s.close()
    if not buf:
        return "EOF"
    parts = buf.split(b"\r\n", 1)[0].split()
    return parts[1].decode() if len(parts) > 1 else "GARBAGE"


def hostile(port):
    big = b"X-Big: " + b"a" * 20000 + b"\r\n"
    many = b"".join(b"X-H%d: v\r\n" % i for i in range(2000))
    cases = [
        ("huge_header", b"GET /metrics HTTP/1.1\r\nHost: x\r\n" + big + b"\r\n"),
        ("many_headers", b"GET /metrics HTTP/1.1\r\nHost: x\r\n" + many + b"\r\n"),
        ("huge_uri", b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"),
        ("post", b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi"),
        ("delete", b"DELETE /readyz HTTP/1.1\r\nHost: x\r\n\r\n"),
        ("bad_method", b"BREW /pot HTTP/1.1\r\nHost: x\r\n\r\n"),
        ("garbage", b"\x00\x01\x02 not http at all\r\n\r\n"),
        ("head", b"HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n"),
        ("not_found", b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n"),
    ]
    for name, data in cases:
        print(name, raw(port, data))


def idle(port, n, ready):
    socks = []
    for _ in range(n):
        socks.append(socket.create_connection(("127.0.0.1", port), timeout=10))
    closed = set()
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline:
        left = [s for s in socks if s.fileno() not in closed]
        r, _, _ = select.select(left, [], [], 0.2) if left else ([], [], [])
        for s in r:
            try:
                if not s.recv(1):
                    closed.add(s.fileno())
            except OSError:
                closed.add(s.fileno())
    with open(ready, "w") as f:
        f.write("open %d eof %d\n" % (len(socks), len(closed)))
    while True:
        time.sleep(3600)


def cancel(pl_port, pg_port):
    import threading
    import psycopg
    conn = psycopg.connect(host="127.0.0.1", port=pl_port, user="pitlane",
                           dbname="pitlane", autocommit=True)
    mon = psycopg.connect(host="127.0.0.1", port=pg_port, user="pitlane",
                          dbname="pitlane", autocommit=True)
    result = {}

    def run():
        try:
            conn.execute("select pg_sleep(30)")
            result["r"] = "finished"
        except psycopg.errors.QueryCanceled:
            result["r"] = "canceled"

    t = threading.Thread(target=run)
    t.start()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        n = mon.execute("select count(*) from pg_stat_activity "
                        "where query = 'select pg_sleep(30)' "
                        "and state = 'active'").fetchone()[0]
        if n:
            break
        time.sleep(0.02)  # polling interval while waiting for the query
    conn.cancel()
    t.join(40)
    print(result.get("r", "hung"))


def fds(pid, pg_port):
    """Counts /proc/PID/fd entries minus sockets whose peer is PG_PORT."""
    server_inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    cols = line.split()
                    if int(cols[2].rsplit(":", 1)[1], 16) == pg_port:
                        server_inodes.add(cols[9])
        except FileNotFoundError:
            pass
    n = 0
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            target = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        if target.startswith("socket:[") and target[8:-1] in server_inodes:
            continue
        n += 1
    print(n)


def main():
    cmd = sys.argv[1]
    a = sys.argv[2:]
    if cmd == "notify-listen":
        notify_listen(a[0], a[1])
    elif cmd == "get":
        status, body = get(int(a[0]), a[1])
        print(status, body.strip())
    elif cmd == "probe":
        probe(int(a[0]), a[1], int(a[2]))
    elif cmd == "hostile":
        hostile(int(a[0]))
    elif cmd == "idle":
        idle(int(a[0]), int(a[1]), a[2])
    elif cmd == "fds":
        fds(int(a[0]), int(a[1]))
    elif cmd == "cancel":
        cancel(int(a[0]), int(a[1]))
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main()
