#!/usr/bin/python3
"""A minimal NATS client for the tests: the text protocol over a socket
(INFO, CONNECT, PING/PONG, PUB, SUB, MSG/HMSG), enough to ask the
JetStream API without the `nats` CLI. Standard library only.

    nats_tool.py PORT create STREAM SUBJECT   make a file-backed stream
    nats_tool.py PORT delete STREAM           delete it
    nats_tool.py PORT count STREAM            print its message count
    nats_tool.py PORT dump STREAM DATA IDS    every message in stream order:
                                              payloads as a JSON list of
                                              hex strings to DATA, their
                                              Nats-Msg-Id one per line to IDS
"""
import base64
import json
import socket
import sys


class Nats:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=20)
        self.buf = b""
        self.line()  # INFO
        opts = {"verbose": False, "pedantic": False, "headers": True,
                "no_responders": True, "protocol": 1, "lang": "py-test"}
        self.s.sendall(b"CONNECT " + json.dumps(opts).encode() +
                       b"\r\nSUB _INBOX.t.* 1\r\nPING\r\n")
        while self.line() != b"PONG":
            pass

    def fill(self):
        d = self.s.recv(1 << 16)
        if not d:
            raise EOFError("server closed the connection")
        self.buf += d

    def line(self):
        while b"\r\n" not in self.buf:
            self.fill()
        ln, self.buf = self.buf.split(b"\r\n", 1)
        if ln.startswith(b"-ERR"):
            raise RuntimeError(ln.decode())
        return ln

    def take(self, n):
        while len(self.buf) < n + 2:
            self.fill()
        d, self.buf = self.buf[:n], self.buf[n + 2:]
        return d

    def msg(self):
        """The next MSG or HMSG: (subject, payload)."""
        while True:
            ln = self.line()
            if ln == b"PING":
                self.s.sendall(b"PONG\r\n")
                continue
            f = ln.split()
            if f and f[0] == b"MSG":
                return f[1].decode(), self.take(int(f[-1]))
            if f and f[0] == b"HMSG":
                d = self.take(int(f[-1]))
                return f[1].decode(), d[int(f[-2]):]

    def requests(self, reqs, window=256):
        """Send (subject, payload) requests, window at a time; replies in
        order."""
        out = [None] * len(reqs)
        for lo in range(0, len(reqs), window):
            chunk = []
            for i in range(lo, min(lo + window, len(reqs))):
                subj, body = reqs[i]
                chunk.append(b"PUB %s _INBOX.t.%d %d\r\n%s\r\n" %
                             (subj.encode(), i, len(body), body))
            self.s.sendall(b"".join(chunk))
            for _ in chunk:
                subj, d = self.msg()
                out[int(subj.rsplit(".", 1)[1])] = d
        return out

    def api(self, subj, obj):
        r = json.loads(self.requests([(subj, json.dumps(obj).encode())])[0])
        if "error" in r:
            raise RuntimeError("%s: %s" % (subj, r["error"]))
        return r


def main():
    port, cmd, stream = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    nc = Nats(port)
    if cmd == "create":
        nc.api("$JS.API.STREAM.CREATE." + stream,
               {"name": stream, "subjects": [sys.argv[4]], "storage": "file",
                "duplicate_window": 120 * 10**9})
    elif cmd == "delete":
        nc.api("$JS.API.STREAM.DELETE." + stream, {})
    elif cmd == "count":
        print(nc.api("$JS.API.STREAM.INFO." + stream, {})["state"]["messages"])
    elif cmd == "dump":
        st = nc.api("$JS.API.STREAM.INFO." + stream, {})["state"]
        seqs = range(st["first_seq"], st["last_seq"] + 1) \
            if st["messages"] else []
        replies = nc.requests([("$JS.API.STREAM.MSG.GET." + stream,
                                json.dumps({"seq": s}).encode())
                               for s in seqs])
        data, ids = [], []
        for r in replies:
            r = json.loads(r)
            if "error" in r:
                raise RuntimeError(r["error"])
            m = r["message"]
            data.append(base64.b64decode(m.get("data", "")).hex())
            hdrs = base64.b64decode(m.get("hdrs", "")).decode()
            mid = [h.split(":", 1)[1].strip() for h in hdrs.split("\r\n")
                   if h.lower().startswith("nats-msg-id:")]
            ids.append(mid[0] if mid else "")
        with open(sys.argv[4], "w") as f:
            json.dump(data, f)
        with open(sys.argv[5], "w") as f:
            f.write("".join(i + "\n" for i in ids))
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main()
