#!/usr/bin/python3
"""A Fluent Forward protocol v1 receiver for the tests.

Follows the specification (fluentd's "Forward Protocol Specification v1"):
accepts the four event modes (Message, Forward, PackedForward,
CompressedPackedForward), EventTime (ext type 0) and integer times,
answers {"ack": chunk} when the option map asks for it, and optionally
runs the shared-key handshake (HELO / PING / PONG) and TLS.

Every record received is written to --out as one JSON line
{"tag": ..., "time": [sec, nsec] or sec, "record": {...}}, flushed before
the ack goes out, so a record the sender saw acked is in the file.

--discard: ack every message without decoding its entries (benchmarks).
--drop-after N: after N messages, the next one is written but not acked
and the connection is closed (once), to test resends. --ready FILE gets the
port (or "unix") once the receiver listens. Needs Debian's python3-msgpack
(run with /usr/bin/python3).
"""
import argparse
import gzip
import hashlib
import json
import os
import socket
import ssl
import sys
import threading

import msgpack


class EventTime:
    def __init__(self, sec, nsec):
        self.sec, self.nsec = sec, nsec


def ext_hook(code, data):
    if code == 0 and len(data) == 8:
        return EventTime(int.from_bytes(data[:4], "big"),
                         int.from_bytes(data[4:], "big"))
    return msgpack.ExtType(code, data)


def jsonable(o):
    if isinstance(o, EventTime):
        return [o.sec, o.nsec]
    if isinstance(o, bytes):
        return o.decode("utf-8", "replace")
    if isinstance(o, msgpack.ExtType):
        return {"ext": o.code, "data": o.data.hex()}
    raise TypeError(type(o))


def digest(*parts):
    h = hashlib.sha512()
    for p in parts:
        h.update(p if isinstance(p, bytes) else p.encode())
    return h.hexdigest()


class Receiver:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.out = open(args.out, "a", encoding="utf-8")
        self.messages = 0
        self.dropped = False
        self.hostname = "receiver.test"

    def write(self, tag, entries):
        with self.lock:
            for t, rec in entries:
                self.out.write(json.dumps({"tag": tag, "time": t,
                                           "record": rec},
                                          default=jsonable) + "\n")
            self.out.flush()

    def handshake(self, conn, unpacker):
        nonce = os.urandom(16)
        conn.sendall(msgpack.packb(["HELO", {"nonce": nonce, "auth": b"",
                                             "keepalive": True}]))
        ping = self.next_obj(conn, unpacker)
        if (not isinstance(ping, list) or len(ping) != 6
                or ping[0] != "PING"):
            return False
        _, host, salt, hexdigest, _user, _pw = ping
        key = self.args.shared_key
        if digest(salt, host, nonce, key) != hexdigest:
            conn.sendall(msgpack.packb(["PONG", False, "shared_key mismatch",
                                        "", ""]))
            return False
        conn.sendall(msgpack.packb(["PONG", True, "", self.hostname,
                                    digest(salt, self.hostname, nonce,
                                           key)]))
        return True

    @staticmethod
    def next_obj(conn, unpacker):
        while True:
            for obj in unpacker:
                return obj
            data = conn.recv(65536)
            if not data:
                return None
            unpacker.feed(data)

    def entries_of(self, msg):
        """The (time, record) pairs of one message, and its option map."""
        tag, second = msg[0], msg[1]
        if isinstance(second, (int, EventTime)):  # Message
            return tag, [(second, msg[2])], (msg[3] if len(msg) > 3 else {})
        option = msg[2] if len(msg) > 2 and isinstance(msg[2], dict) else {}
        if isinstance(second, list):  # Forward
            return tag, [(e[0], e[1]) for e in second], option
        if isinstance(second, str):
            second = second.encode("utf-8", "surrogateescape")
        if option.get("compressed") == "gzip":  # CompressedPackedForward
            second = gzip.decompress(second)
        entries = self.unpack_all(second)
        return tag, [(e[0], e[1]) for e in entries], option

    @staticmethod
    def unpack_all(data):
        u = msgpack.Unpacker(raw=False, ext_hook=ext_hook,
                             max_buffer_size=len(data) + 1)
        u.feed(data)
        return list(u)

    def serve(self, conn):
        unpacker = msgpack.Unpacker(raw=False, ext_hook=ext_hook,
                                    max_buffer_size=1 << 30)
        try:
            if self.args.shared_key and not self.handshake(conn, unpacker):
                return
            while True:
                msg = self.next_obj(conn, unpacker)
                if msg is None:
                    return
                if self.args.discard:  # benchmarks: ack, decode nothing
                    option = msg[2] if len(msg) > 2 else {}
                else:
                    tag, entries, option = self.entries_of(msg)
                    self.write(tag, entries)
                with self.lock:
                    self.messages += 1
                    drop = (self.args.drop_after is not None
                            and not self.dropped
                            and self.messages > self.args.drop_after)
                    if drop:
                        self.dropped = True
                if drop:
                    return
                if "chunk" in option and not self.args.no_ack:
                    conn.sendall(msgpack.packb({"ack": option["chunk"]}))
        except (ConnectionError, ssl.SSLError, OSError) as e:
            print("receiver: %s" % e, file=sys.stderr)
        finally:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            conn.close()

    def run(self):
        a = self.args
        if a.unix:
            if os.path.exists(a.unix):
                os.unlink(a.unix)
            ls = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            ls.bind(a.unix)
        else:
            ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            ls.bind(("127.0.0.1", a.port))
        ls.listen(16)
        ctx = None
        if a.tls_cert:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(a.tls_cert, a.tls_key)
        if a.ready:
            with open(a.ready + ".tmp", "w") as f:
                f.write("unix" if a.unix else str(ls.getsockname()[1]))
            os.rename(a.ready + ".tmp", a.ready)
        while True:
            conn, _ = ls.accept()
            if ctx:
                try:
                    conn = ctx.wrap_socket(conn, server_side=True)
                except (ssl.SSLError, OSError) as e:
                    print("receiver: TLS: %s" % e, file=sys.stderr)
                    conn.close()
                    continue
            threading.Thread(target=self.serve, args=(conn,),
                             daemon=True).start()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--unix")
    p.add_argument("--out", required=True)
    p.add_argument("--ready")
    p.add_argument("--shared-key")
    p.add_argument("--tls-cert")
    p.add_argument("--tls-key")
    p.add_argument("--drop-after", type=int)
    p.add_argument("--no-ack", action="store_true")
    p.add_argument("--discard", action="store_true",
                   help="ack without decoding or writing (benchmarks)")
    Receiver(p.parse_args()).run()


if __name__ == "__main__":
    main()
