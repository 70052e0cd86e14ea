#!/usr/bin/env python3
# NAME
#	backlog.py - the SQLite catalog's full-text backlog, for the burst's samples
# SYNOPSIS
#	backlog.py CATALOG.db
# DESCRIPTION
#	Prints one line "PENDING AGE": the rows of text_pending and the
#	seconds the oldest of them has waited since its arrival (the
#	messages row's arrival, to the second; "-" when nothing is pending).
#	Opens the catalog read-only. deliver.py --sample runs it once a
#	second during bench_search.sh's sustained burst.
# DIAGNOSTICS
#	Prints "? -" when the catalog cannot be read (locked for longer than
#	5 s, no text_pending table).

import calendar
import sqlite3
import sys
import time


def main():
    try:
        c = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True, timeout=5)
        n = c.execute("SELECT count(*) FROM text_pending").fetchone()[0]
        row = c.execute("SELECT m.arrival FROM text_pending p JOIN messages m ON m.id = p.message"
                        " ORDER BY p.message LIMIT 1").fetchone()
    except sqlite3.Error:
        print("? -")
        return
    age = "-"
    if row and row[0]:
        try:
            t = calendar.timegm(time.strptime(row[0], "%Y-%m-%dT%H:%M:%SZ"))
            age = "%d" % max(0, int(time.time()) - t)
        except ValueError:
            pass
    print("%d %s" % (n, age))


if __name__ == "__main__":
    main()
