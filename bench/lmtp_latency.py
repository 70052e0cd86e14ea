#!/usr/bin/env python3
# NAME
#	lmtp_latency.py - delivery latency of an LMTP server: end of DATA to the last reply
# SYNOPSIS
#	lmtp_latency.py HOST PORT COUNT SIZE [SESSIONS]
# DESCRIPTION
#	Opens SESSIONS (1) connections at once and sends COUNT messages in
#	all, spread over them, each of SIZE bytes (headers like smtp-source's,
#	body of 80-byte numbered lines, so the text indexer sees what it sees
#	in the throughput runs), one recipient, with connection reuse (RSET
#	is not needed: each transaction ends with its reply).
#
#	For every message the clock starts when the last byte of the message
#	and the terminating ".\r\n" have been handed to the kernel and stops
#	when the reply for the (single) recipient has been read: the time
#	the server needs to store, index and acknowledge, without the time to
#	transfer the body. Prints one line:
#	    n=N p50=MS p90=MS p99=MS max=MS errors=E greeting_max=MS rate=MSGS/S
#	(milliseconds, nearest-rank percentiles over all sessions);
#	greeting_max is the longest a session waited from connect() to the
#	220 greeting: a server with fewer workers than sessions leaves the
#	rest in its listen queue until a worker is free. rate is messages
#	over the wall time of the whole run (a Python client: a rough figure,
#	smtp-source's is the one to quote).
# DIAGNOSTICS
#	A reply other than 2xx counts as an error; the message is still timed.
#	Exit 1 when a session cannot connect or the server closes it early.
import socket
import sys
import threading
import time


def read_reply(f):
    """Read one (possibly multi-line) reply; return its code."""
    while True:
        line = f.readline()
        if not line:
            raise EOFError("connection closed")
        if len(line) < 4 or line[3:4] != b"-":
            return int(line[:3])


def message(size, seq):
    head = (
        "From: <bench@sender.test>\r\n"
        "To: <archive+rcpt=bench.test@archive.test>\r\n"
        "Date: %s\r\n"
        "Message-Id: <lat.%d.%d@bench.test>\r\n\r\n"
        % (time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime()), seq, time.time_ns())
    ).encode()
    lines, n, i = [], len(head), 1
    while n < size:
        line = (str(i) + "X" * 78)[:78].encode() + b"\r\n"
        lines.append(line)
        n += len(line)
        i += 1
    return head + b"".join(lines)


def session(host, port, count, size, first_seq, out, errors, fail, greet):
    try:
        t0 = time.perf_counter()
        s = socket.create_connection((host, port))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        f = s.makefile("rb")
        read_reply(f)
        greet.append(time.perf_counter() - t0)
        s.sendall(b"LHLO latency.test\r\n")
        read_reply(f)
        for k in range(count):
            s.sendall(b"MAIL FROM:<bench@sender.test>\r\n")
            read_reply(f)
            s.sendall(b"RCPT TO:<archive+rcpt=bench.test@archive.test>\r\n")
            read_reply(f)
            s.sendall(b"DATA\r\n")
            read_reply(f)
            s.sendall(message(size, first_seq + k))
            t0 = time.perf_counter()
            s.sendall(b".\r\n")
            code = read_reply(f)
            out.append(time.perf_counter() - t0)
            if code // 100 != 2:
                errors.append(code)
        s.sendall(b"QUIT\r\n")
        s.close()
    except (OSError, EOFError) as e:
        fail.append(str(e))


def main():
    if len(sys.argv) < 5:
        sys.exit("usage: lmtp_latency.py HOST PORT COUNT SIZE [SESSIONS]")
    host, port, count, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    sessions = int(sys.argv[5]) if len(sys.argv) > 5 else 1
    out, errors, fail, threads, greet = [], [], [], [], []
    per = [count // sessions + (1 if i < count % sessions else 0) for i in range(sessions)]
    seq = 0
    start = time.perf_counter()
    for i in range(sessions):
        t = threading.Thread(target=session, args=(host, port, per[i], size, seq, out, errors, fail, greet))
        seq += per[i]
        threads.append(t)
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    if fail or not out:
        sys.exit("lmtp_latency.py: %s" % (fail[0] if fail else "no messages"))
    out.sort()

    def pct(p):
        return out[min(len(out) - 1, max(0, -(-len(out) * p // 100) - 1))] * 1000

    print("n=%d p50=%.2f p90=%.2f p99=%.2f max=%.2f errors=%d greeting_max=%.2f rate=%.1f"
          % (len(out), pct(50), pct(90), pct(99), out[-1] * 1000, len(errors), max(greet) * 1000,
             len(out) / elapsed))


if __name__ == "__main__":
    main()
