#!/usr/bin/env python3
"""
NAME
    load.py - LMTP load client for the fault tests, with a ledger of what it
    sent and what it was told

SYNOPSIS
    load.py send ENDPOINT LEDGER --tag TAG --count N [--first K] [options]
    load.py resend ENDPOINT LEDGER [options]
    load.py probe ENDPOINT
    load.py hold-lock DB SECONDS READY-FILE

DESCRIPTION
    send offers messages TAG/K .. TAG/K+N-1 over --sessions concurrent LMTP
    connections (--per-session messages each before reconnecting). Every
    message is a function of (tag, seq, size): a unique Message-ID
    <TAG.SEQ@faults.test>, one archive recipient, --size bytes, no line
    starting with "." (what the client writes is what the daemon must
    store, byte for byte). resend reads LEDGER and offers again, with the
    same bytes, every message that never got a 250.

    Every event is appended to LEDGER as one JSON line, flushed at once:
      offer    a transaction started (MAIL FROM sent): tag, seq, msgid,
               sha256 of the exact message bytes, size
      ack      250 for the recipient: archive_id ("archived as ID"), or
               null for "already archived" (a resend of a message whose
               first 250 was lost with its connection)
      defer    4xx (at MAIL, RCPT, DATA or after the final dot): reply
      reject   5xx: reply (the daemon must never send one here)
      unknown  the whole message was sent, the connection broke before
               the reply: it may or may not be archived
      aborted  the connection broke before the final dot: nothing can
               have been archived
      kill     --kill fired: what, pid, hit (false: the worker had exited)
      plan     a message this run will offer (resend owes it until acked)
      unplan   --until-defers stopped the run before it was offered
      notsent  the daemon was gone (--give-up) before it was offered
    A summary JSON object goes to stdout at the end.

    --kill SPEC with --master PID: SPEC is FRACTION:worker|group|master,...;
    when the number of acks in this run reaches FRACTION * N, SIGKILL a
    random live child of PID (worker), the whole process group of PID
    (group: the master and its workers at once, so no worker can be forked
    after the list of victims was made), or PID alone (master). After a group kill the daemon refuses
    connections; each session gives up after --give-up seconds of refusals.

    --until-defers D stops the run after D 4xx replies in a row (no ack in
    between): "send until the store is full".

    probe connects, sends LHLO and NOOP and QUIT, and prints the first
    line of each reply (the daemon still serves sessions).

    hold-lock takes SQLite's write lock on DB (BEGIN EXCLUSIVE), creates
    READY-FILE, holds the lock for SECONDS, rolls back and exits.
"""
import argparse, hashlib, json, os, random, re, signal, socket, sqlite3, sys, threading, time

DOMAIN = "faults.test"
RCPT = "archive+rcpt=faults.test@archive.test"
SENDER = "load@faults.test"


def make_message(tag, seq, size):
    """The message's exact bytes (CRLF lines, no dot-stuffing needed)."""
    head = (
        "From: Fault Load <load@faults.test>\r\n"
        "To: <rcpt@faults.test>\r\n"
        "Subject: fault load %s %d\r\n"
        "Date: Mon, 01 Jan 2024 00:00:00 +0000\r\n"
        "Message-ID: <%s.%d@%s>\r\n"
        "\r\n" % (tag, seq, tag, seq, DOMAIN)
    ).encode()
    body = bytearray()
    rnd = random.Random("%s/%d" % (tag, seq))
    line_no = 0
    while len(head) + len(body) < size:
        line = "%08d %s %s" % (seq, tag, "".join(rnd.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(60)))
        body += ("%s-%d\r\n" % (line, line_no)).encode()
        line_no += 1
    return head + bytes(body)


def msgid_of(tag, seq):
    return "%s.%d@%s" % (tag, seq, DOMAIN)


class Ledger:
    def __init__(self, path):
        self.f = open(path, "a", buffering=1)
        self.lock = threading.Lock()

    def write(self, **ev):
        ev["t"] = round(time.time(), 3)
        with self.lock:
            self.f.write(json.dumps(ev, sort_keys=True) + "\n")
            self.f.flush()


def read_ledger(path):
    events = []
    try:
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line:
                    events.append(json.loads(line))
    except FileNotFoundError:
        pass
    return events


def connect(endpoint, timeout):
    if endpoint.startswith("unix:"):
        s = socket.socket(socket.AF_UNIX)
        addr = endpoint[5:]
    else:
        host, port = endpoint[5:].rsplit(":", 1) if endpoint.startswith("inet:") else endpoint.rsplit(":", 1)
        s = socket.socket(socket.AF_INET)
        addr = (host, int(port))
    s.settimeout(timeout)
    try:
        s.connect(addr)
    except OSError:
        s.close()
        raise
    return s


class Lost(Exception):
    pass


class Conn:
    def __init__(self, sock):
        self.s = sock
        self.f = sock.makefile("rb")

    def reply(self):
        lines = []
        while True:
            try:
                line = self.f.readline()
            except OSError as e:
                raise Lost(str(e))
            if not line:
                raise Lost("connection closed")
            line = line.rstrip(b"\r\n").decode("utf-8", "replace")
            lines.append(line)
            if len(line) < 4 or line[3] != "-":
                return lines

    def send(self, data):
        try:
            self.s.sendall(data)
        except OSError as e:
            raise Lost(str(e))

    def cmd(self, text):
        self.send(text.encode() + b"\r\n")
        return self.reply()

    def close(self):
        try:
            self.f.close()
            self.s.close()
        except OSError:
            pass


class Run:
    def __init__(self, args, ledger, todo):
        self.args = args
        self.ledger = ledger
        self.todo = list(todo)  # [(tag, seq, size)]
        self.lock = threading.Lock()
        self.stop = False
        self.acked = 0
        self.defers_in_a_row = 0
        self.counts = {k: 0 for k in ("offered", "acked", "deferred", "rejected", "unknown", "aborted", "notsent")}
        self.started = time.time()

    def next(self):
        with self.lock:
            if self.stop or not self.todo:
                return None
            return self.todo.pop(0)

    def count(self, what):
        with self.lock:
            self.counts[what] += 1
            if what == "acked":
                self.acked += 1
                self.defers_in_a_row = 0
            elif what == "deferred":
                self.defers_in_a_row += 1
                if self.args.until_defers and self.defers_in_a_row >= self.args.until_defers:
                    self.stop = True

    def session(self):
        a = self.args
        item = None
        conn = None
        used = 0
        while True:
            if item is None:
                item = self.next()
                if item is None:
                    break
            if conn is None:
                refused_since = None
                while True:
                    try:
                        conn = Conn(connect(a.endpoint, a.timeout))
                        greet = conn.reply()
                        if not greet[-1].startswith("220"):
                            raise Lost("greeting " + greet[-1])
                        lhlo = conn.cmd("LHLO load.faults.test")
                        if not lhlo[-1].startswith("250"):
                            raise Lost("LHLO " + lhlo[-1])
                        used = 0
                        break
                    except (OSError, Lost) as e:
                        if conn is not None:
                            conn.close()
                            conn = None
                        now = time.time()
                        refused_since = refused_since or now
                        if self.stop or now - refused_since >= a.give_up:
                            with self.lock:
                                self.stop = True
                            self.ledger.write(ev="notsent", tag=item[0], seq=item[1], why=str(e))
                            self.count("notsent")
                            return
                        time.sleep(0.05)
            ok = self.transaction(conn, *item)
            item = None
            used += 1
            if not ok or used >= a.per_session:
                if ok:
                    try:
                        conn.cmd("QUIT")
                    except (OSError, Lost):
                        pass
                conn.close()
                conn = None
        if conn is not None:
            try:
                conn.cmd("QUIT")
            except (OSError, Lost):
                pass
            conn.close()

    def transaction(self, conn, tag, seq, size):
        """One message; False when the connection must be dropped."""
        data = make_message(tag, seq, size)
        sha = hashlib.sha256(data).hexdigest()
        self.ledger.write(ev="offer", tag=tag, seq=seq, msgid=msgid_of(tag, seq), sha256=sha, size=size)
        self.count("offered")
        t0 = time.time()
        stage = "MAIL"
        complete = False
        try:
            for stage, line, want in (("MAIL", "MAIL FROM:<%s>" % SENDER, "250"),
                                      ("RCPT", "RCPT TO:<%s>" % RCPT, "250"),
                                      ("DATA", "DATA", "354")):
                r = conn.cmd(line)[-1]
                if not r.startswith(want):
                    self.verdict(tag, seq, r, stage, t0)
                    if r.startswith("4") and stage == "DATA":
                        return True  # the session was reset: go on
                    return False if r.startswith("421") else self.rset(conn)
            stage = "end of data"
            conn.send(data + b".\r\n")
            complete = True
            r = conn.reply()[-1]
            self.verdict(tag, seq, r, stage, t0)
            return True
        except Lost as e:
            if complete:
                self.ledger.write(ev="unknown", tag=tag, seq=seq, why="%s at %s" % (e, stage))
                self.count("unknown")
            else:
                self.ledger.write(ev="aborted", tag=tag, seq=seq, why="%s at %s" % (e, stage))
                self.count("aborted")
            return False

    def rset(self, conn):
        try:
            return conn.cmd("RSET")[-1].startswith("250")
        except Lost:
            return False

    def verdict(self, tag, seq, reply, stage, t0):
        secs = round(time.time() - t0, 3)
        if reply.startswith("250"):
            m = re.search(r"archived as ([0-9A-Za-z]+)", reply)
            self.ledger.write(ev="ack", tag=tag, seq=seq, archive_id=m.group(1) if m else None,
                              reply=reply, secs=secs)
            self.count("acked")
        elif reply.startswith("4"):
            self.ledger.write(ev="defer", tag=tag, seq=seq, reply=reply, stage=stage, secs=secs)
            self.count("deferred")
        else:
            self.ledger.write(ev="reject", tag=tag, seq=seq, reply=reply, stage=stage, secs=secs)
            self.count("rejected")

    def chaos(self, plan, total):
        """Kills as planned; returns when the plan is done or the run is."""
        master = self.args.master
        for frac, what in plan:
            while True:
                with self.lock:
                    if self.stop or self.finished:
                        return
                    reached = self.acked >= frac * total
                if reached:
                    break
                time.sleep(0.002)
            if what == "group":
                os.killpg(master, signal.SIGKILL)
                self.ledger.write(ev="kill", what="group", pid=master, acked=self.acked)
            elif what == "master":
                os.kill(master, signal.SIGKILL)
                self.ledger.write(ev="kill", what="master", pid=master, acked=self.acked)
            else:
                kids = children(master)
                if not kids:
                    self.ledger.write(ev="kill", what="worker", pid=None, hit=False, acked=self.acked)
                    continue
                pid = random.choice(kids)
                try:
                    os.kill(pid, signal.SIGKILL)
                    hit = True
                except ProcessLookupError:  # it had just exited (max_use)
                    hit = False
                self.ledger.write(ev="kill", what="worker", pid=pid, hit=hit, acked=self.acked)

    def go(self):
        total = len(self.todo)
        self.finished = False
        threads = [threading.Thread(target=self.session) for _ in range(self.args.sessions)]
        for t in threads:
            t.start()
        chaos = None
        if self.args.kill:
            plan = []
            for part in self.args.kill.split(","):
                frac, what = part.split(":")
                plan.append((float(frac), what))
            chaos = threading.Thread(target=self.chaos, args=(plan, total))
            chaos.start()
        for t in threads:
            t.join()
        with self.lock:
            self.finished = True
            # what the sessions never got to
            # "Send until full" never meant to send the rest: not owed.
            # Otherwise (the daemon died) they are owed to the resend.
            filled = self.args.until_defers and self.defers_in_a_row >= self.args.until_defers
            for tag, seq, _ in self.todo:
                if filled:
                    self.ledger.write(ev="unplan", tag=tag, seq=seq)
                else:
                    self.ledger.write(ev="notsent", tag=tag, seq=seq, why="run stopped")
                    self.counts["notsent"] += 1
            self.todo = []
        if chaos:
            chaos.join()
        out = dict(self.counts)
        out["seconds"] = round(time.time() - self.started, 2)
        print(json.dumps(out, sort_keys=True))


def children(pid):
    """The live workers of master pid (not its helpers "tab-indexer", "tab-catalog")."""
    kids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                comm, rest = f.read().split("(", 1)[1].rsplit(")", 1)
                st = rest.split()
        except (OSError, ValueError):
            continue
        if st[0] != "Z" and int(st[1]) == pid and not comm.startswith("tab-"):
            kids.append(int(d))
    return kids


def unacked(events):
    """(tag, seq, size) of every planned message without an ack, in plan order."""
    planned, acked = {}, set()
    for e in events:
        if e["ev"] == "plan":
            planned.setdefault((e["tag"], e["seq"]), e["size"])
        elif e["ev"] == "ack":
            acked.add((e["tag"], e["seq"]))
        elif e["ev"] == "unplan":
            planned.pop((e["tag"], e["seq"]), None)
    return [(k[0], k[1], size) for k, size in planned.items() if k not in acked]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=("send", "resend", "probe", "hold-lock"))
    p.add_argument("endpoint")
    p.add_argument("rest", nargs="*")
    p.add_argument("--tag", default="m")
    p.add_argument("--count", type=int, default=0)
    p.add_argument("--first", type=int, default=1)
    p.add_argument("--sessions", type=int, default=10)
    p.add_argument("--per-session", type=int, default=5)
    p.add_argument("--size", type=int, default=4096)
    p.add_argument("--timeout", type=float, default=90)
    p.add_argument("--give-up", type=float, default=2)
    p.add_argument("--until-defers", type=int, default=0)
    p.add_argument("--kill", default="")
    p.add_argument("--master", type=int, default=0)
    a = p.parse_args()

    if a.mode == "probe":
        conn = Conn(connect(a.endpoint, 10))
        print(conn.reply()[-1])
        print(conn.cmd("LHLO probe.faults.test")[-1])
        print(conn.cmd("NOOP")[-1])
        print(conn.cmd("QUIT")[-1])
        conn.close()
        return 0
    if a.mode == "hold-lock":
        db, secs, ready = a.endpoint, float(a.rest[0]), a.rest[1]
        c = sqlite3.connect(db, isolation_level=None, timeout=10)
        c.execute("BEGIN EXCLUSIVE")
        open(ready, "w").close()
        time.sleep(secs)
        c.execute("ROLLBACK")
        c.close()
        return 0
    if not a.rest:
        p.error("LEDGER missing")
    ledger_path = a.rest[0]
    if a.kill and not a.master:
        p.error("--kill needs --master")
    if a.mode == "send":
        todo = [(a.tag, s, a.size) for s in range(a.first, a.first + a.count)]
        ledger = Ledger(ledger_path)
        for tag, seq, size in todo:
            ledger.write(ev="plan", tag=tag, seq=seq, size=size)
    else:
        todo = unacked(read_ledger(ledger_path))
        ledger = Ledger(ledger_path)
    Run(a, ledger, todo).go()
    return 0


if __name__ == "__main__":
    sys.exit(main())
