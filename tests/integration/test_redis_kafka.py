#!/usr/bin/env python3
"""End-to-end Redis stream -> Kafka (issue 6): the XACK of each stream entry
happens only after its Kafka delivery report.

The real build/bin/cebridge runs the redis stream source (consumer group)
into the kafka sink. The sink's bootstrap address is a gate (a loopback TCP
listener of this script) in front of build/bin/kafka-mock:

  1. gate closed (every connection is accepted and dropped at once: a broker
     that is down). The bridge reads all N entries (XPENDING == N), the sink
     keeps reconnecting (the gate counts the attempts), the topic stays
     empty and nothing is XACKed. SIGTERM: the sink gives up its
     deliveries at stop; still nothing XACKed (XPENDING == N after exit).
  2. restart, gate still closed: the source re-reads its own pending
     entries; XPENDING stays N while the sink retries.
  3. gate opened (it forwards to the mock cluster's bootstrap broker): every
     entry is produced, XPENDING reaches 0, and kcat finds exactly the N
     events in the topic (ids, binary-mode headers, key = partitionkey).

redis-server runs on an ephemeral loopback port; every process started here
is stopped by PID. kcat is required: without it the test fails when CI is
set and exits 77 (a CTest skip) otherwise.

    python3 tests/integration/test_redis_kafka.py --build build [-v]

Python 3 standard library, redis-cli and kcat.
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
import threading
import time
import unittest

import itest
from itest import RedisServer, tail, wait_until
from kafka_mock import KafkaMock

BUILD = None
N = 500
SKIP = 77


class Gate:
    """A loopback TCP listener in front of one broker. Closed: each connection
    is accepted and dropped (the broker looks down), and counted. Open: bytes
    are forwarded both ways. Only bootstrap traffic passes here: the cluster's
    metadata sends clients to the brokers' own addresses."""

    def __init__(self, target):
        host, port = target.rsplit(":", 1)
        self.target = (host, int(port))
        self.lsock = socket.socket()
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(64)
        self.lsock.settimeout(0.1)   # the accept loop checks `done` this often
        self.address = "127.0.0.1:%d" % self.lsock.getsockname()[1]
        self.lock = threading.Lock()
        self.is_open = False
        self.dropped = 0
        self.conns = []
        self.done = False
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def open(self):
        with self.lock:
            self.is_open = True

    def drops(self):
        with self.lock:
            return self.dropped

    def _accept(self):
        while not self.done:
            try:
                c, _ = self.lsock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with self.lock:
                if not self.is_open:
                    self.dropped += 1
                    c.close()
                    continue
            try:
                u = socket.create_connection(self.target, timeout=5)
            except OSError:
                c.close()
                continue
            u.settimeout(None)
            with self.lock:
                self.conns += [c, u]
            for a, b in ((c, u), (u, c)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(a, b):
        try:
            while True:
                d = a.recv(65536)
                if not d:
                    break
                b.sendall(d)
        except OSError:
            pass
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self):
        self.done = True
        self.thread.join()
        self.lsock.close()
        with self.lock:
            for s in self.conns:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()


def ce(i):
    e = {"specversion": "1.0", "id": "rk-%d" % i, "source": "/redis-it", "type": "t.rk",
         "datacontenttype": "application/json", "data": {"i": i}}
    if i % 10 == 0:
        e["partitionkey"] = "key-%d" % (i % 7)
    return json.dumps(e, separators=(",", ":"))


class TestRedisToKafka(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="ceb_redis_kafka_it_")
        self.redis = RedisServer().start()
        self.mock = KafkaMock(BUILD, ["rk.out:3"])
        self.gate = Gate(self.mock.brokers.split(",")[0])
        self.procs = []

    def tearDown(self):
        for p in self.procs:
            if p.poll() is None:
                os.kill(p.pid, signal.SIGKILL)
                p.wait()
        self.gate.close()
        self.mock.stop()
        self.redis.stop()
        if os.environ.get("CEB_KEEP_TMP"):
            print("kept", self.tmp, file=sys.stderr)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def bridge(self):
        conf = {
            # the first stop gives up at once instead of waiting 10 s for the broker
            "settings": {"drain_timeout": "1s"},
            "sources": {"rs": {"plugin": "redis", "url": "redis://127.0.0.1:%d" % self.redis.port,
                               "stream": "s", "group": "g", "consumer": "c1", "start": "0",
                               "count": 100, "block": "200ms", "reconnect_max": "300ms"}},
            "sinks": {"k": {"plugin": "kafka", "brokers": self.gate.address, "topic": "rk.out",
                            # nothing is reported failed while the gate is closed;
                            # reconnect soon once it opens
                            "delivery_timeout": "120s", "drain_timeout": "300ms",
                            "librdkafka": {"reconnect.backoff.ms": 50,
                                           "reconnect.backoff.max.ms": 300}}},
            "routes": {"r": {"from": "rs", "to": "k"}}}
        d = os.path.join(self.tmp, "conf.d")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "50-test.json"), "w") as f:
            json.dump(conf, f, indent=1)
        log = os.path.join(self.tmp, "cebridge.log")
        with open(log, "a") as logf:
            p = subprocess.Popen([os.path.join(BUILD, "bin", "cebridge"), "-c", d,
                                  "--plugin-dir", os.path.join(BUILD, "lib", "cebridge", "plugins"),
                                  "--log-level", "info"],
                                 stdin=subprocess.DEVNULL, stdout=logf, stderr=logf)
        self.procs.append(p)
        return p, log

    def term(self, p, log):
        os.kill(p.pid, signal.SIGTERM)
        rc = p.wait(30 * itest.SCALE)
        self.assertEqual(rc, 0, tail(log))
        text = tail(log, 100000)
        self.assertNotIn("Sanitizer", text)
        self.assertNotIn("runtime error:", text)

    def topic_records(self, count=None, timeout=30):
        """kcat -J of topic rk.out: exactly `count` records, or (None) what is there now."""
        args = ["kcat", "-C", "-b", self.mock.brokers, "-t", "rk.out", "-J", "-o", "beginning"]
        args += ["-e"] if count is None else ["-c", str(count), "-m", str(int(timeout * itest.SCALE))]
        p = subprocess.run(args, capture_output=True, text=True, timeout=timeout * itest.SCALE + 30)
        self.assertEqual(p.returncode, 0, p.stderr)
        out = []
        for ln in p.stdout.splitlines():
            r = json.loads(ln)
            hs = r.get("headers") or []
            r["h"] = dict(zip(hs[0::2], hs[1::2]))
            out.append(r)
        return out

    def pending_n_while_retrying(self, p, log, drops_before):
        """Every entry read, none acknowledged, while the sink keeps reconnecting."""
        wait_until(lambda: self.redis.pending("s", "g") == N, 30, "XPENDING == %d" % N,
                   proc=p, log=log)
        wait_until(lambda: self.gate.drops() >= drops_before + 3, 30,
                   "the sink to retry the broker", proc=p, log=log)
        self.assertEqual(self.redis.pending("s", "g"), N)
        self.assertEqual(self.topic_records(), [])

    def test_xack_only_after_kafka_delivery_report(self):
        self.redis.pipe([["XADD", "s", "*", "event", ce(i)] for i in range(N)])
        self.assertEqual(int(self.redis.cli("XLEN", "s")), N)

        # 1. broker down: read, not acknowledged; stop gives up, still not acknowledged
        p, log = self.bridge()
        self.pending_n_while_retrying(p, log, 0)
        self.term(p, log)
        self.assertEqual(self.redis.pending("s", "g"), N, "an entry was XACKed undelivered")

        # 2. restart, broker still down: the consumer's own pending entries come again
        drops = self.gate.drops()
        p, log = self.bridge()
        self.pending_n_while_retrying(p, log, drops)

        # 3. broker up: delivery reports, then XACKs
        self.gate.open()
        wait_until(lambda: self.redis.pending("s", "g") == 0, 60, "XPENDING == 0",
                   proc=p, log=log)
        recs = self.topic_records(N, timeout=30)
        self.term(p, log)
        self.assertEqual(self.redis.pending("s", "g"), 0)
        self.assertEqual(len(recs), N)
        ids = sorted(int(r["h"]["ce_id"][3:]) for r in recs)
        self.assertEqual(ids, list(range(N)), "each entry exactly once")
        for r in recs:
            i = int(r["h"]["ce_id"][3:])
            self.assertEqual(r["h"]["ce_source"], "/redis-it")
            self.assertEqual(r["h"]["ce_type"], "t.rk")
            self.assertEqual(r["h"]["content-type"], "application/json")
            self.assertEqual(json.loads(r["payload"]), {"i": i})
            self.assertEqual(r["key"], "key-%d" % (i % 7) if i % 10 == 0 else None)


def main():
    global BUILD
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("-v", action="store_true")
    ap.add_argument("tests", nargs="*")
    a = ap.parse_args()
    BUILD = os.path.abspath(a.build)
    if os.environ.get("CEB_SANITIZED"):
        itest.SCALE = 4.0
    for tool in ("kcat", "redis-server", "redis-cli"):
        if shutil.which(tool) is None:
            if os.environ.get("CI"):
                print("FAIL: %s is not installed (CI is set; tools/install-deps installs it)"
                      % tool)
                return 1
            print("SKIP: %s is not installed" % tool)
            return SKIP
    argv = [sys.argv[0]] + (["-v"] if a.v else []) + a.tests
    prog = unittest.main(module=__name__, argv=argv, exit=False)
    return 0 if prog.result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
