#!/usr/bin/env python3
"""bench_redis: the redis plugin next to the raw rate of the same redis-server,
measured in the same run (issue 5, DESIGN §8). Run as `tools/bench redis`.

    python3 tools/redis-bench-raw/bench_redis.py [--build DIR] [-n EVENTS] [--repeat R]

A redis-server of its own on an ephemeral loopback port (stopped by PID).
Cases (events/s, wall clock):
  raw produce          bench_redis_raw produce: pipelined XADD of N structured
                       CloudEvents (this also fills the stream the bridge reads)
  raw consume+ack      bench_redis_raw consume: XREADGROUP COUNT 500 + one XACK
                       per batch, pipelined
  raw stream->stream   bench_redis_raw pipe: as consume + one XADD per entry
  cebridge -> file     redis stream source (group, start 0) -> file sink on
                       /dev/null, until the group's pending and lag are 0
  cebridge -> stream   redis stream source -> redis sink (XADD to another
                       stream), until pending and lag are 0 and XLEN is N

The bridge is timed from its start (process start-up and connecting
included) to the poll that sees the group drained (XINFO GROUPS every 10 ms
over a socket of this script). Ratio: bridge / the raw case doing the same
Redis work. Target (issue 5): >= 70 % of raw and >= 100,000 events/s.
Python 3 standard library only.
"""
import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def die(msg):
    sys.stderr.write("tools/bench redis: %s\n" % msg)
    sys.exit(1)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Resp:
    """A minimal blocking RESP2 client (for polling; never on the hot path)."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.f = self.sock.makefile("rb")

    def close(self):
        self.f.close()
        self.sock.close()

    def cmd(self, *args):
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        self.sock.sendall(out)
        return self._read()

    def _read(self):
        line = self.f.readline()
        if not line:
            raise ConnectionError("redis closed the connection")
        t, rest = line[:1], line[1:-2]
        if t == b"+":
            return rest.decode()
        if t == b"-":
            raise RuntimeError(rest.decode())
        if t == b":":
            return int(rest)
        if t == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = self.f.read(n + 2)[:-2]
            return data.decode("utf-8", "replace")
        if t == b"*":
            n = int(rest)
            return None if n < 0 else [self._read() for _ in range(n)]
        raise RuntimeError("bad RESP line %r" % line)


class Server:
    def __init__(self):
        self.port = free_port()
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--loglevel", "warning"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:
            try:
                self.c = Resp(self.port)
                if self.c.cmd("PING") == "PONG":
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.stop()
                die("redis-server did not answer PING on port %d" % self.port)
            time.sleep(0.02)   # polling a child's readiness, not a measurement

    def stop(self):
        if getattr(self, "c", None) is not None:
            self.c.close()
            self.c = None
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            self.proc.wait()

    def group(self, stream, name):
        for g in self.c.cmd("XINFO", "GROUPS", stream) or []:
            d = dict(zip(g[0::2], g[1::2]))
            if d.get("name") == name:
                return d
        return None


def raw(exe, *args):
    p = subprocess.run([exe] + [str(a) for a in args], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
    if p.returncode != 0:
        die("%s %s failed: %s" % (exe, " ".join(map(str, args)),
                                  p.stderr.decode("utf-8", "replace")))
    fields = dict(kv.split("=", 1) for kv in p.stdout.decode().split())
    return float(fields["seconds"])


def bridge_run(build, srv, tmp, n, group, sink, out_stream=None, count=500, perf=None):
    """Run cebridge until `group` on stream "in" is drained; returns wall seconds."""
    plugdir = os.path.join(build, "lib", "cebridge", "plugins")
    confdir = os.path.join(tmp, "conf.d")
    if os.path.isdir(confdir):
        shutil.rmtree(confdir)
    os.makedirs(confdir)
    url = "redis://127.0.0.1:%d" % srv.port
    cfg = {
        "settings": {"max_inflight": 10000},
        "sources": {"in": {"plugin": "redis", "url": url, "stream": "in", "group": group,
                           "consumer": "bench", "start": "0", "count": count,
                           "block": "100ms"}},
        "sinks": {"out": sink},
        "routes": {"r": {"from": ["in"], "to": ["out"]}},
    }
    with open(os.path.join(confdir, "10-bench.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    log = open(os.path.join(tmp, "cebridge-%s.log" % group), "wb")
    argv = [os.path.join(build, "bin", "cebridge"), "-c", confdir, "--plugin-dir", plugdir,
            "--log-level", "warn"]
    if perf:
        argv = ["perf", "record", "--call-graph", "dwarf,16384", "-F", "1000", "-o", perf] + argv
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + max(60, n / 5000)
        while True:
            g = srv.group("in", group) if srv.c.cmd("EXISTS", "in") else None
            done = (g is not None and g.get("pending") == 0 and g.get("lag") == 0 and
                    g.get("entries-read") == n)
            if done and out_stream is not None:
                done = srv.c.cmd("XLEN", out_stream) >= n
            if done:
                wall = time.perf_counter() - t0
                break
            if proc.poll() is not None:
                log.close()
                with open(log.name, errors="replace") as f:
                    die("cebridge exited %s before draining the stream:\n%s"
                        % (proc.returncode, f.read()[-3000:]))
            if time.monotonic() > deadline:
                die("cebridge did not drain %d entries in time (group %s: %r)" % (n, group, g))
            time.sleep(0.01)   # poll interval of the drain check
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
        log.close()
    return wall


def main(argv=None):
    ap = argparse.ArgumentParser(prog="tools/bench redis")
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("-n", "--events", type=int, default=200000)
    ap.add_argument("--repeat", type=int, default=1, help="runs per case; the fastest counts")
    ap.add_argument("--count", type=int, default=500, help="XREADGROUP COUNT (source and raw)")
    ap.add_argument("--perf", metavar="DIR",
                    help="record the bridge runs with perf record -g into DIR")
    args, _ = ap.parse_known_args(argv)
    build = os.path.abspath(args.build)
    exe = os.path.join(build, "bin", "bench_redis_raw")
    for p, what in ((exe, "bench_redis_raw"), (os.path.join(build, "bin", "cebridge"), "cebridge"),
                    (os.path.join(build, "lib", "cebridge", "plugins", "redis.so"), "redis.so"),
                    (os.path.join(build, "lib", "cebridge", "plugins", "file.so"), "file.so")):
        if not os.path.exists(p):
            die("%s not found at %s (build first, or pass --build DIR)" % (what, p))
    if shutil.which("redis-server") is None:
        die("redis-server is not installed")
    n = args.events
    tmp = tempfile.mkdtemp(prefix="ceb-bench-redis-")
    srv = Server()
    try:
        t_prod = min(raw(exe, "produce", srv.port, "in", n) for _ in range(1))
        # raw cases read the same entries through their own groups
        t_cons = min(raw(exe, "consume", srv.port, "in", "raw%d" % i, n, args.count)
                     for i in range(args.repeat))
        t_pipe = 1e9
        for i in range(args.repeat):
            srv.c.cmd("DEL", "rawout")
            t_pipe = min(t_pipe, raw(exe, "pipe", srv.port, "in", "rawp%d" % i, "rawout", n,
                                     args.count))
        srv.c.cmd("DEL", "rawout")
        perf = lambda name: os.path.join(args.perf, name) if args.perf else None
        if args.perf:
            os.makedirs(args.perf, exist_ok=True)
        t_file = min(bridge_run(build, srv, tmp, n, "bf%d" % i,
                                {"plugin": "file", "path": "/dev/null"}, count=args.count,
                                perf=perf("file.data"))
                     for i in range(args.repeat))
        t_s2s = 1e9
        for i in range(args.repeat):
            srv.c.cmd("DEL", "out")
            t_s2s = min(t_s2s, bridge_run(build, srv, tmp, n, "bs%d" % i,
                                          {"plugin": "redis", "url": "redis://127.0.0.1:%d"
                                           % srv.port, "stream": "out"},
                                          out_stream="out", count=args.count,
                                          perf=perf("stream.data")))
        info = srv.c.cmd("INFO", "server")
        version = [l for l in info.splitlines() if l.startswith("redis_version:")]
    finally:
        srv.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    rate = lambda t: n / t if t > 0 else 0.0
    print("tools/bench redis: %d structured CloudEvents per case, XREADGROUP COUNT %d, %s, "
          "best of %d, build %s" % (n, args.count, version[0] if version else "redis",
                                    args.repeat, os.path.relpath(build)))
    print()
    hdr = "%-44s %8s %11s %8s" % ("case", "wall s", "events/s", "vs raw")
    print(hdr)
    print("-" * len(hdr))
    rows = [("raw: XADD, pipelined (fills the stream)", t_prod, None),
            ("raw: XREADGROUP + XACK per batch", t_cons, None),
            ("raw: XREADGROUP + XADD each + XACK", t_pipe, None),
            ("cebridge: stream -> file /dev/null", t_file, t_cons),
            ("cebridge: stream -> redis stream (XADD)", t_s2s, t_pipe)]
    for name, t, base in rows:
        print("%-44s %8.3f %11.0f %8s" % (name, t, rate(t),
                                          "%.0f%%" % (100.0 * base / t) if base else ""))
    print()
    ok_file = rate(t_file) >= 100000 and t_cons / t_file >= 0.7
    ok_s2s = t_pipe / t_s2s >= 0.7
    print("target (issue 5): >= 70%% of raw and >= 100,000 events/s: stream -> file %s, "
          "stream -> stream %s (70%% only)" % ("MET" if ok_file else "NOT met",
                                              "MET" if ok_s2s else "NOT met"))
    print("(bridge times include process start-up and the 10 ms drain poll)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
