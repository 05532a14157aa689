-- pgbench custom script for tests/compat/test_txn_pgbench.sh: the TPC-B-like
-- transaction sent as one pipeline (\startpipeline ... \endpipeline: every
-- statement goes out before the first result is read, one Sync at the end),
-- then a second pipeline of statements without BEGIN (one implicit
-- transaction). Needs -M extended or -M prepared.
\set aid random(1, 100000 * :scale)
\set bid random(1, 1 * :scale)
\set tid random(1, 10 * :scale)
\set delta random(-5000, 5000)
\startpipeline
BEGIN;
UPDATE pgbench_accounts SET abalance = abalance + :delta WHERE aid = :aid;
SELECT abalance FROM pgbench_accounts WHERE aid = :aid;
UPDATE pgbench_tellers SET tbalance = tbalance + :delta WHERE tid = :tid;
UPDATE pgbench_branches SET bbalance = bbalance + :delta WHERE bid = :bid;
INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (:tid, :bid, :aid, :delta, CURRENT_TIMESTAMP);
END;
\endpipeline
\startpipeline
SELECT abalance FROM pgbench_accounts WHERE aid = :aid;
SELECT count(*) FROM pgbench_tellers WHERE tid = :tid;
SELECT :aid::int + :delta::int;
\endpipeline
