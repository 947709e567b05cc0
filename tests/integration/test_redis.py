#!/usr/bin/env python3
"""Integration tests of the redis plugin (issue 5), running the real binary
against a real redis-server started on an ephemeral loopback port by each
test and stopped by PID. Python 3 standard library and redis-cli only.

    python3 tests/integration/test_redis.py --build build [-v] [TestRedis.test_x]
"""
import argparse
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import unittest

import itest
from itest import RedisServer, free_port

BUILD = None
SCALE = 1.0


def wait_until(cond, timeout, what, bridge=None):
    deadline = time.monotonic() + timeout * SCALE
    while True:
        v = cond()
        if v:
            return v
        if bridge is not None and not bridge.alive():
            raise AssertionError("cebridge exited while waiting for %s; log:\n%s"
                                 % (what, bridge.log()[-3000:]))
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.1fs waiting for %s%s"
                                 % (timeout * SCALE, what,
                                    "; log:\n" + bridge.log()[-3000:] if bridge else ""))
        time.sleep(0.02)


class Bridge:
    def __init__(self, name):
        self.tmp = tempfile.mkdtemp(prefix="ceb-redis-%s-" % name)
        self.conf = os.path.join(self.tmp, "conf.d")
        self.plugins = os.path.join(self.tmp, "plugins")
        os.mkdir(self.conf, 0o700)
        os.mkdir(self.plugins, 0o700)
        d = os.path.join(BUILD, "lib", "cebridge", "plugins")
        for fn in ("redis.so", "file.so"):
            if not os.path.exists(os.path.join(d, fn)):
                raise unittest.SkipTest("%s not built in %s" % (fn, d))
            shutil.copyfile(os.path.join(d, fn), os.path.join(self.plugins, fn))
            os.chmod(os.path.join(self.plugins, fn), 0o755)
        self.proc = None
        self.logf = None

    def path(self, n):
        return os.path.join(self.tmp, n)

    def write(self, obj):
        with open(os.path.join(self.conf, "50-test.json"), "w") as f:
            json.dump(obj, f, indent=2)

    def start(self):
        if self.logf:
            self.logf.close()
        self.logf = open(self.path("cebridge.log"), "ab")
        self.proc = subprocess.Popen([os.path.join(BUILD, "bin", "cebridge"), "-c", self.conf,
                                      "--plugin-dir", self.plugins, "--log-level", "info"],
                                     stdin=subprocess.DEVNULL, stdout=self.logf,
                                     stderr=self.logf)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill(self, sig=signal.SIGKILL):
        if self.alive():
            os.kill(self.proc.pid, sig)
            self.proc.wait()

    def term(self, timeout=20):
        if self.alive():
            os.kill(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=timeout * SCALE)
        return self.proc.returncode

    def log(self):
        try:
            with open(self.path("cebridge.log"), encoding="utf-8", errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def close(self):
        self.kill()
        if self.logf:
            self.logf.close()
        log = self.log()
        if "Sanitizer" in log or "runtime error:" in log:
            raise AssertionError("sanitizer report:\n" + log[-3000:])
        if os.environ.get("CEB_KEEP_TMP"):
            sys.stderr.write("kept %s\n" % self.tmp)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)


def events(path):
    try:
        with open(path, encoding="utf-8") as f:
            data = f.read()
    except FileNotFoundError:
        return []
    return [json.loads(l) for l in data.split("\n")[:-1] if l]


def ce(i, typ="t.it", **extra):
    e = {"specversion": "1.0", "id": str(i), "source": "/it", "type": typ}
    e.update(extra)
    return json.dumps(e, separators=(",", ":"))


def fs_binary(body, headers):
    h = b"".join(struct.pack(">H", len(k)) + k + struct.pack(">H", len(v)) + v
                 for k, v in headers)
    return (b"\x89BIN\r\n\x1a\n" + struct.pack(">HIIH", 1, 18, 20 + len(h), len(headers))
            + h + body)


class TestRedis(unittest.TestCase):
    def setUp(self):
        self.redis = RedisServer().start()
        self.bridges = []

    def tearDown(self):
        for b in self.bridges:
            b.close()
        self.redis.stop()

    def bridge(self, name, conf):
        b = Bridge(name)
        b.write(conf)
        self.bridges.append(b)
        b.start()
        return b

    def subscribed(self, n=1):
        return lambda: int(self.redis.cli("PUBSUB", "NUMPAT")) + \
            len(self.redis.cli("PUBSUB", "CHANNELS").split()) >= n

    def test_pubsub_and_pattern_routing(self):
        b = Bridge("pubsub")
        self.bridges.append(b)
        b.write({
            "sources": {"r": {"plugin": "redis", "url": self.redis.url,
                              "channels": ["main"], "patterns": ["ci.*"]}},
            "sinks": {"ci": {"plugin": "file", "path": b.path("ci.jsonl")},
                      "main": {"plugin": "file", "path": b.path("main.jsonl")}},
            "routes": {"ci": {"from": ["r"], "filter": "subject LIKE 'ci.%'", "to": ["ci"]},
                       "main": {"from": ["r"], "filter": "type = 't.it'", "to": ["main"]}}})
        b.start()
        wait_until(self.subscribed(2), 15, "subscriptions", b)
        cmds = [["PUBLISH", "main", ce(i)] for i in range(200)]
        cmds += [["PUBLISH", "ci.build", "raw-%d" % i] for i in range(100)]
        cmds += [["PUBLISH", "nobody", "x"]]
        self.redis.pipe(cmds)
        wait_until(lambda: len(events(b.path("main.jsonl"))) >= 200 and
                   len(events(b.path("ci.jsonl"))) >= 100, 30, "pub/sub events", b)
        self.assertEqual(b.term(), 0)
        self.assertEqual(len(events(b.path("main.jsonl"))), 200)
        ci = events(b.path("ci.jsonl"))
        self.assertEqual(len(ci), 100)
        self.assertEqual(ci[0]["subject"], "ci.build")

    def stream_conf(self, b, **src):
        s = {"plugin": "redis", "url": self.redis.url, "stream": "s", "group": "g",
             "start": "0", "block": "200ms", "reconnect_max": "300ms"}
        s.update(src)
        return {"sources": {"r": s},
                "sinks": {"out": {"plugin": "file", "path": b.path("out.jsonl")}},
                "routes": {"all": {"from": ["r"], "to": ["out"]}}}

    def add_entries(self, lo, hi):
        self.redis.pipe([["XADD", "s", "*", "event", ce(i)] for i in range(lo, hi)])

    def test_stream_exact_counts_and_xpending_zero(self):
        n = 20000
        self.add_entries(0, n)
        b = Bridge("stream")
        self.bridges.append(b)
        b.write(self.stream_conf(b, consumer="c1"))
        b.start()
        wait_until(lambda: len(events(b.path("out.jsonl"))) >= n, 60, "stream events", b)
        wait_until(lambda: self.redis.pending("s", "g") == 0, 20, "XPENDING 0", b)
        self.assertEqual(b.term(), 0)
        ids = [e["id"] for e in events(b.path("out.jsonl"))]
        self.assertEqual(len(ids), n)
        self.assertEqual(len(set(ids)), n)
        self.assertEqual(self.redis.pending("s", "g"), 0)

    def test_sigkill_then_restart_loses_nothing(self):
        n = 20000
        b = Bridge("kill")
        self.bridges.append(b)
        b.write(self.stream_conf(b, consumer="c1", claim_idle="1s"))
        b.start()
        self.add_entries(0, n // 2)
        wait_until(lambda: len(events(b.path("out.jsonl"))) >= 100, 30, "first events", b)
        b.kill(signal.SIGKILL)
        self.add_entries(n // 2, n)
        b.start()
        want = set(str(i) for i in range(n))
        wait_until(lambda: want <= set(e["id"] for e in events(b.path("out.jsonl"))), 60,
                   "every entry at least once", b)
        wait_until(lambda: self.redis.pending("s", "g") == 0, 20, "XPENDING 0", b)

    def test_redis_restart_reconnects(self):
        b = Bridge("restart")
        self.bridges.append(b)
        b.write(self.stream_conf(b, consumer="c1"))
        b.start()
        self.add_entries(0, 100)
        wait_until(lambda: len(events(b.path("out.jsonl"))) >= 100, 30, "first 100", b)
        self.redis.stop()
        wait_until(lambda: "reconnecting in" in b.log(), 15, "reconnect log", b)
        self.redis.start()
        self.add_entries(100, 200)
        wait_until(lambda: len(set(e["id"] for e in events(b.path("out.jsonl")))) >= 200, 30,
                   "entries after the restart", b)
        self.assertIn("connected to", b.log())

    def test_two_consumers_sigkill_one_other_claims(self):
        a = Bridge("ca")
        c = Bridge("cb")
        self.bridges += [a, c]
        a.write(self.stream_conf(a, consumer="a", claim_idle="1s", count=50))
        c.write(self.stream_conf(c, consumer="b", claim_idle="1s", count=50))
        # a: a sink that never finishes would be ideal; SIGSTOP freezes it with
        # entries pending, then SIGKILL.
        a.start()
        c.start()
        wait_until(lambda: "reading stream" in a.log() and "reading stream" in c.log(), 20,
                   "both consumers", a)
        os.kill(a.proc.pid, signal.SIGSTOP)
        self.add_entries(0, 2000)
        wait_until(lambda: len(events(c.path("out.jsonl"))) > 0, 20, "b reads", c)
        # give a's blocked XREADGROUP a chance to have taken entries: it was
        # stopped while blocked, so Redis may have handed it some
        a.kill(signal.SIGKILL)
        want = set(str(i) for i in range(2000))
        got = lambda: set(e["id"] for e in events(a.path("out.jsonl"))) | \
            set(e["id"] for e in events(c.path("out.jsonl")))
        wait_until(lambda: want <= got(), 60, "every entry via the survivor", c)
        wait_until(lambda: self.redis.pending("s", "g") == 0, 20, "XPENDING 0", c)
        consumers = self.redis.cli("XINFO", "CONSUMERS", "s", "g")
        self.assertIn("b", consumers)

    def test_faststream_envelopes(self):
        b = Bridge("fs")
        self.bridges.append(b)
        b.write({
            "sources": {"ch": {"plugin": "redis", "url": self.redis.url, "channels": ["main"]},
                        "st": {"plugin": "redis", "url": self.redis.url, "stream": "fs",
                               "group": "g", "start": "0", "block": "200ms"}},
            "sinks": {"out": {"plugin": "file", "path": b.path("out.jsonl")}},
            "routes": {"all": {"from": ["ch", "st"], "to": ["out"]}}})
        b.start()
        wait_until(self.subscribed(1), 15, "subscription", b)
        body = ce("fs-bin").encode()
        binenv = fs_binary(body, [(b"content-type", b"application/json"),
                                  (b"correlation_id", b"x1")])
        jsonenv = json.dumps({"data": ce("fs-json"),
                              "headers": {"content-type": "application/json"}})
        self.redis.pipe([["PUBLISH", "main", binenv], ["PUBLISH", "main", jsonenv],
                         ["XADD", "fs", "*", "__data__", fs_binary(ce("fs-stream").encode(), [])],
                         ["XADD", "fs", "*", "__data__", json.dumps({"data": ce("fs-sj")})]])
        wait_until(lambda: len(events(b.path("out.jsonl"))) >= 4, 20, "4 events", b)
        ids = sorted(e["id"] for e in events(b.path("out.jsonl")))
        self.assertEqual(ids, ["fs-bin", "fs-json", "fs-sj", "fs-stream"])

    def test_sink_server_down_retries_then_dead_letter(self):
        port = free_port()   # nothing listens there
        b = Bridge("sinkdown")
        self.bridges.append(b)
        inp = b.path("in.jsonl")
        with open(inp, "w") as f:
            for i in range(5):
                f.write(ce(i) + "\n")
        b.write({
            "sources": {"in": {"plugin": "file", "path": inp}},
            "sinks": {"r": {"plugin": "redis", "url": "redis://127.0.0.1:%d" % port,
                            "stream": "x", "reconnect_max": "200ms"},
                      "dlq": {"plugin": "file", "path": b.path("dlq.jsonl")}},
            "routes": {"to-redis": {"from": ["in"], "to": ["r"], "dead_letter": "dlq",
                                    "retry": {"attempts": 3, "backoff": "exponential",
                                              "initial": "50ms", "max": "200ms"}}}})
        b.start()
        wait_until(lambda: len(events(b.path("dlq.jsonl"))) >= 5, 30, "dead letters", b)
        dl = events(b.path("dlq.jsonl"))
        self.assertEqual(len(dl), 5)
        self.assertIn("not connected", dl[0].get("cebdlqreason", ""))
        self.assertEqual(str(dl[0].get("cebdlqattempts")), "3")


def main():
    global BUILD, SCALE
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--scale", type=float, default=1.0)
    args, rest = ap.parse_known_args()
    BUILD = os.path.abspath(args.build)
    SCALE = args.scale
    itest.SCALE = SCALE
    if shutil.which("redis-server") is None or shutil.which("redis-cli") is None:
        print("redis-server/redis-cli not installed: skipped")
        return 0
    unittest.main(argv=[sys.argv[0]] + rest)


if __name__ == "__main__":
    sys.exit(main())
