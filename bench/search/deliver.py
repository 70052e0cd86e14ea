#!/usr/bin/env python3
# NAME
#	deliver.py - send gen_mail.py's spool over LMTP in parallel sessions
# SYNOPSIS
#	deliver.py --spool DIR --port PORT [--host 127.0.0.1] --first A --end B
#	           [--sessions 8] [--batch 25] [--rate MSGS_PER_S] [--seconds S]
#	           [--sample CMD]
# DESCRIPTION
#	Delivers messages A .. B-1 of the spool to an LMTP server with
#	--sessions processes, each one connection for all its transactions
#	(LHLO once; then MAIL FROM, one RCPT TO per envelope recipient,
#	DATA, pipelined as Postfix does). The messages are taken in order in
#	batches of --batch from a shared counter, so arrival order follows
#	the spool's (Date:) order closely. Each envelope recipient
#	user@domain is sent as archive+user=domain@archive.test, the form
#	Postfix's recipient_bcc_maps produce for Tabularium. The payload is
#	sent as generated (already dot-stuffed), so the client only copies
#	bytes.
#
#	--rate paces the delivery: message A+k is not sent before k/RATE
#	seconds after the start, across all sessions (the batch is then 1
#	unless --batch says otherwise); a session that falls behind sends
#	without waiting, so the rate reached is what the server allowed.
#	--seconds S stops sending new transactions S seconds after the start
#	(the messages left are neither delivered nor counted as failed).
#	--sample CMD runs the shell command CMD once a second while
#	delivering and keeps its output lines (with the seconds since the
#	start) in "samples": bench_search.sh samples the full-text backlog.
#
#	Prints one JSON object on stdout: messages delivered, seconds from
#	the moment every session had its greeting to the last reply, msgs/s,
#	the original bytes delivered, deferred (4xx, retried) and failed
#	(5xx or given up) recipients with the first error, and the CPU
#	seconds this client used (all its processes); with --rate also the
#	target rate. Progress lines
#	go to stderr every 10 s.
# DIAGNOSTICS
#	A 4xx reply is retried (the recipients that got it, up to 5 times,
#	0.5 s apart); a lost connection is reopened and the message sent
#	again (a session that cannot reopen its connection in 3 tries
#	stops, its messages left undelivered). Exit 1 when any message was not delivered to every
#	recipient, 2 on bad arguments or when no session could connect.

import argparse
import json
import mmap
import multiprocessing as mp
import os
import resource
import socket
import subprocess
import sys
import time
from array import array


class Spool:
    def __init__(self, d):
        self.d = d
        with open(os.path.join(d, "facts.json")) as f:
            import json as _j
            self.chunk = _j.load(f)["chunk"]
        self.maps = {}

    def get(self, i):
        k, j = divmod(i, self.chunk)
        if k not in self.maps:
            idx = array("Q")
            with open(os.path.join(self.d, "chunk-%05d.idx" % k), "rb") as f:
                idx.frombytes(f.read())
            f = open(os.path.join(self.d, "chunk-%05d.spool" % k), "rb")
            self.maps[k] = (idx, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ))
            f.close()
        idx, m = self.maps[k]
        p = idx[j]
        e = m.find(b"\n", p)
        n, olen, plen, env_from, rcpt = m[p:e].split(b"\t")
        assert int(n) == i, "spool index mismatch at %d" % i
        return env_from, rcpt.split(b","), int(olen), m[e + 1:e + 1 + int(plen)]


def encode_rcpt(a):
    local, _, dom = a.rpartition(b"@")
    return b"archive+" + local + b"=" + dom + b"@archive.test"


class Session:
    def __init__(self, host, port):
        self.host, self.port = host, port
        self.open()

    def open(self):
        self.s = socket.create_connection((self.host, self.port), timeout=300)
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.f = self.s.makefile("rb", buffering=65536)
        code, text = self.reply()
        if code != 220:
            raise OSError("greeting: %s" % text)
        self.s.sendall(b"LHLO bench.search\r\n")
        code, text = self.reply()
        if code != 250:
            raise OSError("LHLO: %s" % text)

    def close(self):
        try:
            self.s.sendall(b"QUIT\r\n")
            self.reply()
        except OSError:
            pass
        self.s.close()

    def reply(self):
        lines = []
        while True:
            line = self.f.readline()
            if not line:
                raise OSError("connection closed by the server")
            lines.append(line.rstrip(b"\r\n").decode("utf-8", "replace"))
            if len(line) < 4 or line[3:4] != b"-":
                break
        return int(lines[-1][:3]), " / ".join(lines)

    def send(self, env_from, rcpts, payload):
        """One transaction; returns [(rcpt, code, text)] for every recipient."""
        cmds = [b"MAIL FROM:<" + env_from + b">\r\n"]
        cmds += [b"RCPT TO:<" + encode_rcpt(r) + b">\r\n" for r in rcpts]
        cmds.append(b"DATA\r\n")
        self.s.sendall(b"".join(cmds))
        code, text = self.reply()
        if code != 250:
            for _ in rcpts:
                self.reply()
            self.reply()
            return [(r, code, "MAIL: " + text) for r in rcpts]
        res, ok = [], []
        for r in rcpts:
            c, t = self.reply()
            if c == 250:
                ok.append(r)
            else:
                res.append((r, c, "RCPT: " + t))
        c, t = self.reply()
        if c != 354:
            self.s.sendall(b"RSET\r\n")
            self.reply()
            return res + [(r, c if c >= 400 else 451, "DATA: " + t) for r in ok]
        self.s.sendall(payload)
        for r in ok:
            c, t = self.reply()
            res.append((r, c, t))
        return res


def worker(a, counter, lock, ready, out):
    sp = Spool(a.spool)
    st = {"n": 0, "bytes": 0, "deferred": 0, "failed": 0, "error": None, "end": 0.0}
    try:
        s = Session(a.host, a.port)
    except OSError as e:
        st["error"] = "connect: %s" % e
        ready.wait()
        out.put(st)
        return
    ready.wait()
    t0 = time.time()
    dead = False
    while not dead:
        with lock:
            lo = counter.value
            counter.value = lo + a.batch
        if lo >= a.end:
            break
        for i in range(lo, min(a.end, lo + a.batch)):
            if a.seconds and time.time() >= t0 + a.seconds:
                dead = True  # out of time: stop, but not as a failure
                break
            env_from, rcpts, olen, payload = sp.get(i)
            if a.rate:
                wait = t0 + (i - a.first) / a.rate - time.time()
                if a.seconds and time.time() + wait >= t0 + a.seconds:
                    dead = True
                    break
                if wait > 0:
                    time.sleep(wait)
            todo, tries, reconnects = rcpts, 0, 0
            while todo:
                try:
                    res = s.send(env_from, todo, payload)
                except OSError as e:
                    # reopen the session: 3 tries 0.5 s apart, else the
                    # server is gone and this session stops
                    st["error"] = st["error"] or "message %d: %s" % (i, e)
                    s.s.close()
                    for _ in range(3):
                        time.sleep(0.5)
                        try:
                            s.open()
                            break
                        except OSError:
                            pass
                    else:
                        dead = True
                    reconnects += 1
                    if dead or reconnects > 3:
                        st["failed"] += len(todo)
                        break
                    continue
                again = [r for r, c, _ in res if 400 <= c < 500]
                bad = [(r, c, t) for r, c, t in res if c >= 500 or (c != 250 and c < 400)]
                if bad:
                    st["failed"] += len(bad)
                    st["error"] = st["error"] or "message %d: %s" % (i, bad[0][2])
                if again:
                    st["deferred"] += len(again)
                    tries += 1
                    if tries > 5:
                        st["failed"] += len(again)
                        st["error"] = st["error"] or "message %d: still 4xx after 5 tries: %s" % (
                            i, [t for r, c, t in res if 400 <= c < 500][0])
                        break
                    time.sleep(0.5)
                todo = again
            st["n"] += 1
            st["bytes"] += olen
            if dead:
                break
    st["end"] = time.time()
    try:
        s.close()
    except OSError:
        pass
    out.put(st)


def main():
    ap = argparse.ArgumentParser(description="deliver the search benchmark's spool over LMTP")
    ap.add_argument("--spool", required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--first", type=int, required=True)
    ap.add_argument("--end", type=int, required=True)
    ap.add_argument("--sessions", type=int, default=8)
    ap.add_argument("--batch", type=int, default=None)
    ap.add_argument("--rate", type=float, default=0,
                    help="messages per second across all sessions (0: as fast as possible)")
    ap.add_argument("--seconds", type=float, default=0,
                    help="stop sending new messages after this many seconds (0: never)")
    ap.add_argument("--sample", default=None,
                    help="shell command run once a second while delivering; its output is kept")
    a = ap.parse_args()
    if a.batch is None:
        a.batch = 1 if a.rate else 25
    if a.first < 0 or a.end <= a.first or a.sessions < 1 or a.batch < 1 or a.rate < 0:
        ap.error("need 0 <= --first < --end, positive --sessions and --batch, --rate >= 0")
    counter = mp.Value("q", a.first, lock=False)
    lock = mp.Lock()
    ready = mp.Barrier(a.sessions + 1)
    out = mp.Queue()
    procs = [mp.Process(target=worker, args=(a, counter, lock, ready, out)) for _ in range(a.sessions)]
    for p in procs:
        p.start()
    ready.wait()
    t0 = time.time()
    stats, last, samples, next_sample, sampler_cpu = [], t0, [], t0, 0.0
    while len(stats) < len(procs):
        try:
            stats.append(out.get(timeout=max(0.05, min(1, next_sample - time.time()))
                                 if a.sample else 1))
        except Exception:
            pass
        now = time.time()
        if a.sample and now >= next_sample and len(stats) < len(procs):
            next_sample += 1
            # the sampler's CPU is not the client's (the sessions are reaped
            # only at the end, so the difference is the sampler's)
            c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            r = subprocess.run(a.sample, shell=True, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True)
            c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            sampler_cpu += c1.ru_utime + c1.ru_stime - c0.ru_utime - c0.ru_stime
            samples.append([round(now - t0, 1), r.stdout.strip()])
        if now - last >= 10:
            last = now
            done = min(counter.value, a.end) - a.first
            print("deliver: about %d of %d sent, %.0f msgs/s" % (
                done, a.end - a.first, done / (now - t0)), file=sys.stderr, flush=True)
    for p in procs:
        p.join()
    errors = [s["error"] for s in stats if s["error"]]
    if all(s["error"] and s["error"].startswith("connect:") for s in stats):
        print("deliver: no session could connect: %s" % errors[0], file=sys.stderr)
        sys.exit(2)
    t1 = max(s["end"] for s in stats)
    ru = [resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    cpu = sum(r.ru_utime + r.ru_stime for r in ru) - sampler_cpu
    n = sum(s["n"] for s in stats)
    res = {
        "messages": n, "seconds": round(t1 - t0, 3),
        "rate": round(n / (t1 - t0), 1) if t1 > t0 else None,
        "bytes": sum(s["bytes"] for s in stats),
        "deferred": sum(s["deferred"] for s in stats),
        "failed": sum(s["failed"] for s in stats),
        "error": errors[0] if errors else None,
        "sessions": a.sessions,
        # this client's own CPU (all sessions): it must not be the bottleneck
        "client_cpu_s": round(cpu, 2),
    }
    if a.rate:
        res["target_rate"] = a.rate
    if a.sample:
        res["samples"] = samples
    print(json.dumps(res))
    if a.seconds:
        res["target_seconds"] = a.seconds
    sys.exit(1 if res["failed"] or (n != a.end - a.first and not a.seconds) else 0)


if __name__ == "__main__":
    main()
