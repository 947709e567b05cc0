#!/usr/bin/env python3
"""Integration tests of the kafka plugin: build/bin/cebridge against
build/bin/kafka-mock (librdkafka's mock cluster), with kcat as an independent
Kafka client.

Issue 6, "How it is checked": binary and structured round trips, kcat
interop (headers and key), 10,000 keyed events over 3 partitions Kafka ->
Kafka in per-key order, SIGKILL mid-topic then restart loses nothing, an
empty `source` repaired or dead-lettered with strict, an unreachable broker
retried then dead-lettered while the process stays healthy.

Facts of the mock cluster (librdkafka 2.0.2): bootstrap ports are random;
a new group member gets its first message about 3 s after it starts; each
partition keeps only about 5 MiB (volumes here stay well below).

    python3 tests/integration/test_kafka.py --build build [-v] [TestKafka.test_kcat_interop]

Every process started here (kafka-mock, cebridge, kcat) is stopped by PID.
Without kcat the script fails when the environment variable CI is set and
exits 77 (a CTest skip) otherwise.
Python 3 standard library only.
"""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

import itest
from itest import tail, wait_until
from kafka_mock import KafkaMock

BUILD = None
SKIP = 77   # CTest SKIP_RETURN_CODE: reported as skipped, not passed


def read_events(path):
    """JSON lines; a line cut by SIGKILL (and what was appended to it) is skipped."""
    out = []
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            data = f.read()
    except FileNotFoundError:
        return out
    for ln in data.split("\n")[:-1]:
        try:
            out.append(json.loads(ln))
        except ValueError:
            pass
    return out



class TestKafka(unittest.TestCase):
    mock = None

    @classmethod
    def setUpClass(cls):
        cls.mock = KafkaMock(BUILD, ["rt.in:1", "rt.bin:1", "rt.st:1", "ord.src:3", "ord.dst:3",
                         "kill.src:3", "outbox:1"])

    @classmethod
    def tearDownClass(cls):
        cls.mock.stop()

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="ceb_kafka_it_")
        self.procs = []

    def tearDown(self):
        for p in self.procs:
            if p.poll() is None:
                os.kill(p.pid, signal.SIGKILL)
                p.wait()
        if os.environ.get("CEB_KEEP_TMP"):
            print("kept", self.tmp, file=sys.stderr)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)

    # ---- helpers -----------------------------------------------------------

    def bridge(self, conf, name="bridge"):
        d = os.path.join(self.tmp, name + ".d")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "50-test.json"), "w") as f:
            json.dump(conf, f, indent=1)
        log = os.path.join(self.tmp, name + ".log")
        # a restart appends to the same log
        logf = open(log, "a")
        p = subprocess.Popen([os.path.join(BUILD, "bin", "cebridge"), "-c", d,
                              "--plugin-dir", os.path.join(BUILD, "lib", "cebridge", "plugins")],
                             stdout=subprocess.DEVNULL, stderr=logf)
        logf.close()
        self.procs.append(p)
        return p, log

    def stop(self, p, timeout=30):
        os.kill(p.pid, signal.SIGTERM)
        rc = p.wait(timeout * itest.SCALE)
        self.assertEqual(rc, 0)

    def kcat_produce(self, topic, lines, headers=(), key_delim=None):
        args = ["kcat", "-P", "-b", self.mock.brokers, "-t", topic]
        for h in headers:
            args += ["-H", h]
        if key_delim:
            args += ["-K", key_delim]
        p = subprocess.run(args, input="\n".join(lines) + "\n", text=True,
                           capture_output=True, timeout=60 * itest.SCALE)
        self.assertEqual(p.returncode, 0, p.stderr)

    def kcat_consume(self, topic, count, timeout=60):
        """`count` records as dicts {key, headers, value, partition}; JSON lines via -J."""
        p = subprocess.run(["kcat", "-C", "-b", self.mock.brokers, "-t", topic, "-J",
                            "-o", "beginning", "-c", str(count), "-m", str(int(timeout * itest.SCALE))],
                           capture_output=True, text=True, timeout=timeout * itest.SCALE + 30)
        out = []
        for ln in p.stdout.splitlines():
            r = json.loads(ln)
            hs = r.get("headers") or []
            r["h"] = dict(zip(hs[0::2], hs[1::2]))
            out.append(r)
        return out

    def kafka_source(self, topics, group, **extra):
        d = {"plugin": "kafka", "brokers": self.mock.brokers, "topics": topics, "group": group,
             "commit_interval": "200ms"}
        d.update(extra)
        return d

    def kafka_sink(self, topic, **extra):
        d = {"plugin": "kafka", "brokers": self.mock.brokers, "topic": topic}
        d.update(extra)
        return d

    def file_sink(self, name):
        return {"plugin": "file", "path": os.path.join(self.tmp, name)}

    # ---- tests --------------------------------------------------------------

    def test_kcat_interop(self):
        """kcat produces binary CloudEvents and a plain record; the bridge writes one
        topic in binary mode and one in structured mode; kcat reads both back."""
        self.kcat_produce("rt.in", ['{"n":1}'],
                          headers=["ce_specversion=1.0", "ce_type=com.example.created",
                                   "ce_source=/kcat", "ce_id=kc-1", "ce_subject=s1",
                                   "content-type=application/json"], key_delim=None)
        self.kcat_produce("rt.in", ["cust-9:plain payload"], key_delim=":")
        p, log = self.bridge({
            "sources": {"kin": self.kafka_source(["rt.in"], "it-rt")},
            "sinks": {"bin": self.kafka_sink("rt.bin"),
                      "st": self.kafka_sink("rt.st", mode="structured"),
                      "copy": self.file_sink("copy.jsonl")},
            "routes": {"r": {"from": "kin", "to": ["bin", "st", "copy"]}}})
        wait_until(lambda: len(read_events(os.path.join(self.tmp, "copy.jsonl"))) >= 2, 60,
                   "2 events through the bridge", p, log)
        binr = self.kcat_consume("rt.bin", 2)
        st = self.kcat_consume("rt.st", 2)
        self.stop(p)
        self.assertEqual(len(binr), 2)
        b0, b1 = binr
        self.assertEqual(b0["h"]["ce_id"], "kc-1")
        self.assertEqual(b0["h"]["ce_type"], "com.example.created")
        self.assertEqual(b0["h"]["ce_source"], "/kcat")
        self.assertEqual(b0["h"]["ce_subject"], "s1")
        self.assertEqual(b0["h"]["ce_specversion"], "1.0")
        self.assertEqual(b0["h"]["content-type"], "application/json")
        self.assertEqual(json.loads(b0["payload"]), {"n": 1})
        # the plain record was wrapped; its key became partitionkey and the key again
        self.assertEqual(b1["key"], "cust-9")
        self.assertEqual(b1["h"]["ce_partitionkey"], "cust-9")
        self.assertEqual(b1["h"]["ce_source"], "kafka://rt.in")
        self.assertEqual(b1["payload"], "plain payload")
        s0, s1 = st
        self.assertTrue(s0["h"]["content-type"].startswith("application/cloudevents+json"))
        ev = json.loads(s0["payload"])
        self.assertEqual((ev["id"], ev["source"], ev["data"]), ("kc-1", "/kcat", {"n": 1}))
        self.assertEqual(s1["key"], "cust-9")
        self.assertEqual(json.loads(s1["payload"])["partitionkey"], "cust-9")

    def test_keyed_order_10000(self):
        """10,000 keyed records over 3 partitions, Kafka -> Kafka: per-key order holds."""
        keys, per_key = 50, 200
        lines = ["k%d:%d" % (k, i) for i in range(per_key) for k in range(keys)]
        self.kcat_produce("ord.src", lines, key_delim=":")
        p, log = self.bridge({
            "sources": {"src": self.kafka_source(["ord.src"], "it-ord")},
            "sinks": {"dst": self.kafka_sink("ord.dst")},
            "routes": {"r": {"from": "src", "to": "dst"}}})
        recs = self.kcat_consume("ord.dst", keys * per_key, timeout=120)
        self.stop(p)
        self.assertEqual(len(recs), keys * per_key)
        nxt = {}
        parts = set()
        for r in recs:
            k, v = r["key"], int(r["payload"])
            self.assertEqual(r["h"]["ce_partitionkey"], k)
            self.assertEqual(v, nxt.get(k, 0), "key %s out of order" % k)
            nxt[k] = v + 1
            parts.add(r["partition"])
        self.assertEqual(len(nxt), keys)
        self.assertEqual(len(parts), 3)

    def committed(self, group, topic, at_least=None, timeout=60):
        """The sum of the group's committed offsets (build/bin/kafka-bench-raw);
        with at_least: wait until it reaches that."""
        raw = os.path.join(BUILD, "bin", "kafka-bench-raw")
        if at_least is not None:
            p = subprocess.run([raw, "committed", self.mock.brokers, group, topic, str(at_least),
                                str(int(timeout * itest.SCALE))], capture_output=True, text=True)
            self.assertEqual(p.returncode, 0, p.stderr)
        p = subprocess.run([raw, "offsets", self.mock.brokers, group, topic],
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        return int(p.stdout.split("=")[1])

    def test_sigkill_then_restart_loses_nothing(self):
        """The first half is committed, the second half arrives, SIGKILL: after the
        restart every record is there and only uncommitted ones came twice."""
        n = 1000
        lines = ["k%d:%d" % (i % 17, i) for i in range(n)]
        self.kcat_produce("kill.src", lines[:n // 2], key_delim=":")
        out = os.path.join(self.tmp, "out.jsonl")
        conf = {
            # the killed member leaves the group only when its session times out:
            # keep that short, or the restarted member waits ~90 s to be assigned
            "sources": {"src": self.kafka_source(["kill.src"], "it-kill", librdkafka={
                "session.timeout.ms": 3000, "heartbeat.interval.ms": 300,
                "max.poll.interval.ms": 6000})},
            "sinks": {"out": {"plugin": "file", "path": out}},
            "routes": {"r": {"from": "src", "to": "out"}}}
        p, log = self.bridge(conf)
        self.assertGreaterEqual(self.committed("it-kill", "kill.src", n // 2), n // 2)
        self.kcat_produce("kill.src", lines[n // 2:], key_delim=":")
        os.kill(p.pid, signal.SIGKILL)
        p.wait()
        before = len(read_events(out))
        committed = self.committed("it-kill", "kill.src")
        self.assertGreaterEqual(committed, n // 2)
        p, log = self.bridge(conf)

        def all_seen():
            return len({int(e["data"]) for e in read_events(out)}) == n
        wait_until(all_seen, 120, "every record after the restart", p, log)
        self.stop(p)
        seen = [int(e["data"]) for e in read_events(out)]
        self.assertEqual(set(seen), set(range(n)))
        dups = len(seen) - n
        print("\nsigkill: %d events written and %d committed before the kill, %d duplicates "
              "after the restart" % (before, committed, dups), file=sys.stderr)
        # duplicates are only ever records that were not committed before the kill
        self.assertLessEqual(dups, n - committed)
        self.assertEqual(self.committed("it-kill", "kill.src"), n)

    def test_empty_source_repaired_or_dead_lettered(self):
        outbox = ('{"specversion":"1.0","type":"ReportResource","source":"","id":"ob-1",'
                  '"data":{"resource":"r1"}}')
        self.kcat_produce("outbox", ["r1\t" + outbox], key_delim="\t")
        p, log = self.bridge({
            "sources": {"lenient": self.kafka_source(["outbox"], "it-lenient"),
                        "strict": self.kafka_source(["outbox"], "it-strict", strict=True)},
            "sinks": {"ok": self.file_sink("ok.jsonl"), "never": self.file_sink("never.jsonl"),
                      "dlq": self.file_sink("dlq.jsonl")},
            "routes": {"a": {"from": "lenient", "to": "ok"},
                       "b": {"from": "strict", "to": "never", "dead_letter": "dlq"}}})
        wait_until(lambda: read_events(os.path.join(self.tmp, "ok.jsonl")) and
                   read_events(os.path.join(self.tmp, "dlq.jsonl")), 60,
                   "the repaired event and the dead letter", p, log)
        self.stop(p)
        ok = read_events(os.path.join(self.tmp, "ok.jsonl"))
        self.assertEqual(len(ok), 1)
        self.assertEqual(ok[0]["id"], "ob-1")
        self.assertEqual(ok[0]["source"], "kafka://outbox")
        self.assertEqual(ok[0]["partitionkey"], "r1")
        self.assertEqual(read_events(os.path.join(self.tmp, "never.jsonl")), [])
        dl = read_events(os.path.join(self.tmp, "dlq.jsonl"))
        self.assertEqual(len(dl), 1)
        self.assertIn("source", dl[0]["cebdlqreason"])

    def test_unreachable_broker_retries_then_dead_letter(self):
        inp = os.path.join(self.tmp, "in.jsonl")
        with open(inp, "w") as f:
            f.write(json.dumps({"specversion": "1.0", "id": "u1", "source": "/t",
                                "type": "t", "data": {"x": 1}}) + "\n")
        p, log = self.bridge({
            "sources": {"in": {"plugin": "file", "path": inp, "follow": True}},
            "sinks": {"down": {"plugin": "kafka", "brokers": "127.0.0.1:1", "topic": "t",
                               "delivery_timeout": "300ms", "drain_timeout": "200ms"},
                      "dlq": self.file_sink("dlq.jsonl")},
            "routes": {"r": {"from": "in", "to": "down", "dead_letter": "dlq",
                             "retry": {"attempts": 3, "initial": "50ms", "max": "200ms"}}}})
        dlq = os.path.join(self.tmp, "dlq.jsonl")
        wait_until(lambda: read_events(dlq), 60, "the dead letter", p, log)
        ev = read_events(dlq)[0]
        self.assertEqual(ev["id"], "u1")
        self.assertEqual(ev["cebdlqattempts"], 3)
        self.assertIsNone(p.poll(), "cebridge must keep running")
        self.stop(p)


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
    for tool in ("kcat",):
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
