#!/usr/bin/env python3
# NAME
#	clone_chain.py - grow a SQLite catalog to N messages for the
#	verify/stats/expire measurements (bench/README.md)
# SYNOPSIS
#	clone_chain.py CATALOG.db N [--days D] [--retain-until T] [--link-files MAILDIR]
#	clone_chain.py --pg-stage TEMPLATE N [--days D] [--retain-until T]
# DESCRIPTION
#	Takes the first message of CATALOG.db (delivered by tabulariumd, so
#	its stored copy exists) and appends clones of it until the catalog
#	holds N messages: each its own archive id, one copy and one
#	recipient, arrivals spread over D days (default 365) before now, and
#	a chain link whose seq, prev_hash and hash are computed with the
#	chain's encoding (docs/integrity.md), so that tabularium verify finds
#	the chain intact. Every clone's copy names the template's stored
#	copy, unless --link-files MAILDIR gives each one a hard link of its
#	own (so that expire can remove them one by one). --retain-until T
#	(YYYY-MM-DDTHH:MM:SSZ) sets the clones' retain-until (default none:
#	forever). Only for benchmarks: it writes the catalog directly.
#
#	--pg-stage reads the template from the file TEMPLATE (psql -At -F'|'
#	output of: chain head seq and hash, envelope_from, sha256, size,
#	store, location, wrapped_sha256, wrapped_size, the recipient) and
#	prints N - 1 rows "archive_id|arrival|seq|prev_hash|hash" for
#	verify_memory.sh (BENCH_CATALOG=pgsql) to load with COPY.
# DIAGNOSTICS
#	Exit 1 with a message when the catalog has no message to clone.

import argparse
import hashlib
import os
import sqlite3
import sys
import time


def field(name, value):
    v = "" if value is None else str(value)
    return (name + " " + v.replace("\\", "\\\\").replace("\n", "\\n") + "\n").encode()


def link_hash(seq, prev, archive_id, arrival, queue_id, env_from, rcpts, sha256, size,
              wsha, wsize, store, location, retain):
    enc = field("tabularium-chain", 1) + field("seq", seq) + field("prev", prev)
    enc += field("archive-id", archive_id) + field("arrival", arrival)
    enc += field("queue-id", queue_id) + field("from", env_from)
    for r in sorted(r.encode() for r in rcpts):
        enc += b"rcpt " + r + b"\n"
    enc += field("sha256", sha256) + field("size", size) + field("wrapped-sha256", wsha)
    enc += field("wrapped-size", wsize) + field("store", store) + field("location", location)
    enc += field("retain-until", retain if retain else "forever")
    return hashlib.sha256(enc).hexdigest()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("catalog")
    ap.add_argument("n", type=int)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--retain-until")
    ap.add_argument("--link-files")
    a = ap.parse_args()
    db = sqlite3.connect(a.catalog)
    db.execute("PRAGMA journal_mode=WAL")
    m = db.execute("SELECT id, queue_id, sha256, envelope_from, size FROM messages"
                   " ORDER BY id LIMIT 1").fetchone()
    if m is None:
        raise SystemExit("clone_chain: no message to clone in " + a.catalog)
    mcols = [r[1] for r in db.execute("PRAGMA table_info(messages)") if r[1] != "id"]
    c = db.execute("SELECT store, location, wrapped_sha256, wrapped_size FROM copies"
                   " WHERE message = ? ORDER BY id LIMIT 1", (m[0],)).fetchone()
    rcpt = db.execute("SELECT address, archive_rcpt, rdomain FROM recipients WHERE message = ?"
                      " ORDER BY rowid LIMIT 1", (m[0],)).fetchone()
    have = db.execute("SELECT count(*) FROM messages").fetchone()[0]
    seq, prev = db.execute("SELECT seq, hash FROM chain_head WHERE id = 1").fetchone()
    now = int(time.time())
    span = a.days * 86400
    todo = a.n - have
    cur = db.cursor()
    cur.execute("BEGIN")
    sel = ", ".join("?" if col in ("archive_id", "arrival", "queue_id") else col for col in mcols)
    insert_m = ("INSERT INTO messages (%s) SELECT %s FROM messages WHERE id = %d"
                % (", ".join(mcols), sel, m[0]))
    order = [col for col in mcols if col in ("archive_id", "arrival", "queue_id")]
    for i in range(todo):
        t = now - span + (span * i) // max(todo, 1)
        arrival = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))
        aid = "%020X" % (0xC10E0000000000000000 + i)
        qid = ""
        vals = {"archive_id": aid, "arrival": arrival, "queue_id": qid}
        cur.execute(insert_m, [vals[col] for col in order])
        mid = cur.lastrowid
        location = c[1]
        if a.link_files:
            location = "new/%d.%s.clone" % (t, aid)
            os.link(os.path.join(a.link_files, c[1]), os.path.join(a.link_files, location))
        seq += 1
        h = link_hash(seq, prev, aid, arrival, qid, m[3], [rcpt[0]], m[2], m[4], c[2], c[3],
                      c[0], location, a.retain_until)
        cur.execute("INSERT INTO copies (message, archive_id, store, location, wrapped_sha256,"
                    " wrapped_size, stored, arrival, retain_until, seq, prev_hash, hash)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (mid, aid, c[0], location, c[2], c[3], arrival, arrival, a.retain_until,
                     seq, prev, h))
        cur.execute("INSERT INTO recipients (message, address, archive_rcpt, copy, rdomain)"
                    " VALUES (?, ?, ?, ?, ?)", (mid, rcpt[0], rcpt[1], cur.lastrowid, rcpt[2]))
        prev = h
    cur.execute("UPDATE chain_head SET seq = ?, hash = ? WHERE id = 1", (seq, prev))
    db.commit()
    print("clone_chain: %d messages, chain head %d" % (a.n, seq))


def pg_stage(a):
    with open(a.catalog) as f:
        seq, prev, env_from, sha, size, store, location, wsha, wsize, rcpt = \
            f.read().rstrip("\n").split("|")
    seq = int(seq)
    now = int(time.time())
    span = a.days * 86400
    todo = a.n - 1
    for i in range(todo):
        t = now - span + (span * i) // max(todo, 1)
        arrival = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))
        aid = "%020X" % (0xC10E0000000000000000 + i)
        seq += 1
        h = link_hash(seq, prev, aid, arrival, "", env_from, [rcpt], sha, size, wsha, wsize,
                      store, location, a.retain_until)
        print("%s|%s|%d|%s|%s" % (aid, arrival, seq, prev, h))
        prev = h


if __name__ == "__main__":
    if "--pg-stage" in sys.argv:
        sys.argv.remove("--pg-stage")
        ap = argparse.ArgumentParser()
        ap.add_argument("catalog")
        ap.add_argument("n", type=int)
        ap.add_argument("--days", type=int, default=365)
        ap.add_argument("--retain-until")
        pg_stage(ap.parse_args())
    else:
        main()
