#!/usr/bin/python3
"""follow_chaos.py - drive `iocstream scan --follow --state S -o OUT` through
growth, rename rotation (the writer still appending to the renamed file),
a second rotation whose file is then gzipped, copytruncate, a new
subdirectory, deletion and an IOC feed reload, while killing it with
SIGKILL at random moments and restarting it with the same flags. Every
line has a unique sequence number; at the end every hit line must be in
the output exactly once, and nothing else.

Usage: follow_chaos.py BINARY WORKDIR [SEED]. Exits 0, or 1 with the
reason. Used by tests/e2e_follow.sh.
"""
import gzip
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time

B, W = sys.argv[1], sys.argv[2]
SEED = int(sys.argv[3]) if len(sys.argv) > 3 else int(time.time())
rnd = random.Random(SEED)
IOC1, IOC2 = "192.81.209.168", "203.0.113.77"
LOGS = os.path.join(W, "logs")
STATE = os.path.join(W, "state")
OUT = os.path.join(W, "out.mp")
FEED = os.path.join(W, "feed.txt")
ERR = os.path.join(W, "stderr.txt")

seq = 0
truth = {}  # seq -> IOC of every hit line written
fds = {}  # name -> descriptor the writer appends with
ioc2_on = False
proc = None
kills = 0
deadline = time.monotonic() + 45


def fail(msg):
    print(f"FAIL (seed {SEED}): {msg}", file=sys.stderr)
    try:
        sys.stderr.write(open(ERR).read()[-3000:])
    except OSError:
        pass
    if proc and proc.poll() is None:
        proc.kill()
    sys.exit(1)


def line_for(n):
    if n % 5 == 0:
        ioc = IOC2 if ioc2_on and n % 10 == 0 else IOC1
        truth[n] = ioc
        body = f"connection from {ioc} port 443"
    else:
        body = "nothing to see " + "x" * rnd.randint(0, 60)
    return f"{time.time():.6f} seq={n} {body}\n".encode()


def write(name, n):
    global seq
    fd = fds.get(name)
    if fd is None:
        path = os.path.join(LOGS, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd = fds[name] = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND,
                                 0o644)
    for _ in range(n):
        seq += 1
        os.write(fd, line_for(seq))


def close(name):
    os.close(fds.pop(name))


def start():
    global proc
    with open(ERR, "a") as err:
        proc = subprocess.Popen([B, "scan", "--follow", "--state", STATE,
                                 "-o", OUT, "-i", FEED, LOGS], stderr=err)


def alive():
    return proc is not None and proc.poll() is None


def chaos(p=0.35):
    """Maybe kill -9 now, write while it is down, and start again."""
    global kills
    if not alive():
        fail(f"iocstream exited with {proc.returncode}")
    if rnd.random() >= p:
        return
    time.sleep(rnd.uniform(0, 0.3))
    proc.kill()
    proc.wait()
    kills += 1
    write("app.log", rnd.randint(0, 40))
    time.sleep(rnd.uniform(0, 0.2))
    start()


def burst(name, rounds=3):
    for _ in range(rounds):
        write(name, rnd.randint(20, 150))
        time.sleep(rnd.uniform(0.02, 0.15))


def committed(name):
    """Whether the state file commits logs/NAME up to its size."""
    size = os.path.getsize(os.path.join(LOGS, name))
    try:
        text = open(STATE).read()
    except OSError:
        return False
    for ln in text.splitlines():
        f = ln.split(" ")
        if f[0] == "s" and f[8] == os.path.join(LOGS, name):
            return int(f[5]) == size
    return False


def wait_for(cond, what, secs=10):
    end = time.monotonic() + secs
    while time.monotonic() < end:
        if cond():
            return
        if not alive():
            fail(f"iocstream exited with {proc.returncode} waiting for {what}")
        time.sleep(0.05)
    fail(f"timed out waiting for {what}")


def events():
    """The events in OUT so far (one being written may be cut: left out)."""
    out = subprocess.run([B, "decode", OUT], capture_output=True)
    evs = []
    for x in out.stdout.splitlines():
        try:
            evs.append(json.loads(x))
        except ValueError:
            pass
    return evs


def main():
    global ioc2_on
    os.makedirs(LOGS)
    with open(FEED, "w") as f:
        f.write(IOC1 + "\n")
    # History: a plain file and a gzipped rotation present at start.
    write("app.log", 300)
    global seq
    hist = b"".join(line_for(n) for n in range(seq + 1, seq + 201))
    seq += 200
    with gzip.open(os.path.join(LOGS, "old.log.1.gz"), "wb") as g:
        g.write(hist)
    start()
    for rnd_round in range(2):
        burst("app.log")
        chaos()
        # Rename rotation; the writer keeps appending to the renamed file.
        if "app.log.1" in os.listdir(LOGS):
            os.rename(os.path.join(LOGS, "app.log.1"),
                      os.path.join(LOGS, "app.log.2"))
        os.rename(os.path.join(LOGS, "app.log"),
                  os.path.join(LOGS, "app.log.1"))
        write("app.log", 30)  # the old descriptor: now app.log.1
        fds["app.log.1"] = fds.pop("app.log")
        chaos()
        burst("app.log.1", 1)
        close("app.log.1")
        burst("app.log")
        chaos()
        # Compress the older rotation (delaycompress): .gz, then unlink.
        p2 = os.path.join(LOGS, "app.log.2")
        if os.path.exists(p2):
            with open(p2, "rb") as src, \
                    gzip.open(p2 + f".{rnd_round}.gz", "wb") as g:
                shutil.copyfileobj(src, g)
            os.unlink(p2)
        chaos()
        # copytruncate: copy, then cut the original; the writer goes on.
        burst("cp.log", 2)
        shutil.copyfile(os.path.join(LOGS, "cp.log"),
                        os.path.join(LOGS, f"cp.log.{rnd_round + 1}"))
        os.truncate(os.path.join(LOGS, "cp.log"), 0)
        burst("cp.log", 2)
        chaos()
        # A new subdirectory.
        burst(f"sub{rnd_round}/deeper/new.log", 2)
        chaos()
    # Deletion: read and committed while running, then unlinked.
    burst("del.log", 2)
    wait_for(lambda: committed("del.log"), "del.log committed")
    close("del.log")
    os.unlink(os.path.join(LOGS, "del.log"))
    chaos()
    # Reload under load: a new IOC in the feed (renamed over it).
    # The latest start is past its setup (its feed watch is in place) once
    # it has committed what was written.
    write("app.log", 100)
    wait_for(lambda: committed("app.log"), "app.log committed")
    reloads = open(ERR).read().count("IOC set reloaded")
    with open(FEED + ".new", "w") as f:
        f.write(IOC1 + "\n" + IOC2 + "\n")
    os.rename(FEED + ".new", FEED)
    write("app.log", 100)
    wait_for(lambda: open(ERR).read().count("IOC set reloaded") > reloads,
             "the reload")
    ioc2_on = True
    burst("app.log", 4)
    chaos(0.5)
    burst("cp.log", 2)
    if kills < 3:
        while kills < 3:
            chaos(1.0)
            burst("app.log", 1)
    # Let it catch up, then stop it with SIGTERM.
    want = len(truth)
    wait_for(lambda: len(events()) >= want, f"{want} events", 15)
    time.sleep(0.3)
    proc.send_signal(signal.SIGTERM)
    rc = proc.wait()
    if rc != 128 + signal.SIGTERM:
        fail(f"SIGTERM: exit status {rc}")

    seen = {}
    dbs = {}
    for e in events():
        m = re.search(r"seq=(\d+) ", e["event"]["original"])
        if not m:
            fail(f"event without a sequence number: {e['event']['original']}")
        n = int(m.group(1))
        seen[n] = seen.get(n, 0) + 1
        dbs.setdefault(truth.get(n), set()).add(e["iocstream"]["db"])
    dup = sorted(n for n, c in seen.items() if c > 1)
    extra = sorted(n for n in seen if n not in truth)
    missing = sorted(n for n in truth if n not in seen)
    if dup or extra or missing:
        fail(f"{len(truth)} hits written, {sum(seen.values())} events: "
             f"duplicated {dup[:20]}, not hits {extra[:20]}, "
             f"missing {missing[:20]}")
    first_db = dbs[IOC1] and min(
        (e["iocstream"]["db"] for e in events()
         if int(re.search(r"seq=(\d+) ", e["event"]["original"]).group(1)) <= 300))
    if not dbs.get(IOC2) or first_db in dbs[IOC2]:
        fail(f"reload: IOC2 events carry {dbs.get(IOC2)}, first db {first_db}")
    print(f"ok (seed {SEED}): {len(truth)} hits exactly once over {seq} "
          f"lines, {kills} kill -9 restarts, db {sorted(dbs[IOC2])}")


main()
