#!/usr/bin/env python3
"""bench_kafka: the Kafka paths of cebridge next to raw librdkafka rates
against the same mock cluster in the same run (issue 6, DESIGN §8). Run as
`tools/bench kafka`.

    python3 tools/bench.d/bench_kafka.py [--build DIR] [-n EVENTS] [--partitions P]
                                         [--repeat R] [--perf DIR] [--plugin-dir DIR]

One build/bin/kafka-mock (3 brokers) for the whole run. Cases (events/s):
  raw produce         kafka-bench-raw produce: idempotent librdkafka producer,
                      acks=all (as the sink), N records keyed k<i % 1000>:
                      binary-mode CloudEvents (ce_ headers, JSON value) into
                      topic `bench`, plain JSON records into topic `plain`
  raw consume         kafka-bench-raw consume: librdkafka consumer reading
                      every partition from the beginning, first record to Nth;
                      it reads each record's headers (librdkafka parses them
                      on first access, as the kafka source must for ce_
                      headers), key and value, as a client of the data would
  kafka -> /dev/null  cebridge: kafka source (consumer group) -> file sink on
                      /dev/null, for `bench` (CloudEvents) and for `plain`
                      (wrapped: new UUIDv4 id, receipt time); progress = the
                      group's committed offsets (commit_interval 50ms), rate =
                      records committed after the first commit was seen / the
                      time from then to N, so the ~3 s group join of the mock
                      is excluded
  redis -> kafka      when redis.so is built and redis-server is installed:
                      N structured CloudEvents in a Redis stream (own
                      redis-server, ephemeral loopback port) -> kafka sink
                      (binary mode); progress = the topic's high watermarks;
                      compared with raw produce of binary-mode CloudEvents

Two rates per run: steady, over the middle of the run (the 10 % record to
the 90 % record; for the bridge the first progress readings at or above 10 %
and 90 % of N), and whole (first to last, as above). The steady rate leaves
out the consumer's start (first fetches, allocator and queue warm-up: the
bridge runs at about half speed for its first ~0.15 s) and the tail, where
the last partitions finish alone; and with a commit every 50 ms the bridge's
end point is only known to a commit interval, its readings inside the run to
the probe's 10 ms. Both are printed; the steady one is what a long-running
bridge sustains. See kafka-bench-raw.c.

Ratio: cebridge / the raw case doing the same Kafka work: the median over the
--repeat pairs of a raw run followed at once by a bridge run (for redis ->
kafka, a raw produce into a fresh topic then the bridge); the machine's and
the mock's rates swing more between runs than the bridge's cost does, and a
pair shares the moment. Target (issue 6): >= 70 % of raw and >= 200,000
events/s Kafka -> file. The mock keeps only ~5 MiB per partition, so N
(default 1,200,000: runs of about a second, so that 10 ms readings are 1 %)
is spread over --partitions partitions (default 64; ~60-byte records,
~170-byte binary CloudEvents with headers). Raw tools and the daemon use the
same allocator (CEB_ALLOCATOR). Python 3 standard library.
"""
import argparse
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def die(msg):
    sys.stderr.write("tools/bench kafka: %s\n" % msg)
    sys.exit(1)


def kv(out):
    return dict(x.split("=", 1) for x in out.split())


def raw(exe, *args):
    p = subprocess.run([exe] + [str(a) for a in args], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
    if p.returncode != 0:
        die("kafka-bench-raw %s failed: %s" % (" ".join(map(str, args[:1])),
                                               p.stderr.decode("utf-8", "replace")))
    return kv(p.stdout.decode())


def rates(r, n):
    """(whole-run rate, steady rate) of a raw run's output."""
    return n / float(r["seconds"]), steady(r)


def steady(r):
    secs = float(r["steady_seconds"])
    if secs <= 0 or int(r["steady_records"]) <= 0:
        die("no steady window in %r; use a larger -n" % r)
    return int(r["steady_records"]) / secs


class Mock:
    def __init__(self, exe, topics):
        argv = [exe, "--brokers", "3"]
        for t in topics:
            argv += ["--topic", t]
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.brokers = self.proc.stdout.readline().decode().strip()
        if not self.brokers:
            self.stop()
            die("kafka-mock printed no bootstrap servers")

    def stop(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            self.proc.wait(30)
        self.proc.stdout.close()


class Redis:
    def __init__(self):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        self.port = s.getsockname()[1]
        s.close()
        self.proc = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind",
                                      "127.0.0.1", "--save", "", "--appendonly", "no"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while self.cli("PING") != "PONG":
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.stop()
                die("redis-server did not answer PING on port %d" % self.port)
            time.sleep(0.02)   # polling a child's readiness

    def cli(self, *args, stdin=None):
        p = subprocess.run(["redis-cli", "-p", str(self.port)] + list(args), input=stdin,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        return p.stdout.decode("utf-8", "replace").strip()

    def fill(self, stream, n):
        buf = bytearray()
        for i in range(n):
            ev = ('{"specversion":"1.0","id":"b-%d","source":"/bench","type":"bench.t",'
                  '"data":{"seq":%d}}' % (i, i)).encode()
            args = [b"XADD", stream.encode(), b"*", b"event", ev]
            buf += b"*%d\r\n" % len(args)
            for a in args:
                buf += b"$%d\r\n%s\r\n" % (len(a), a)
        self.cli("--pipe", stdin=bytes(buf))
        got = int(self.cli("XLEN", stream) or 0)
        if got != n:
            die("the Redis stream holds %d of %d entries" % (got, n))

    def stop(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            self.proc.wait()


def bridge_run(a, tmp, name, cfg, probe_args, perf=None):
    """Run cebridge with `cfg` while kafka-bench-raw `probe_args` watches the
    progress; returns (events/s after the first progress, steady events/s,
    bridge CPU seconds)."""
    confdir = os.path.join(tmp, name + ".d")
    os.makedirs(confdir, exist_ok=True)
    with open(os.path.join(confdir, "10-bench.json"), "w") as f:
        json.dump(cfg, f, indent=1)
    log = open(os.path.join(tmp, name + ".log"), "wb")
    argv = [os.path.join(a.build, "bin", "cebridge"), "-c", confdir, "--plugin-dir",
            a.plugin_dir, "--log-level", "warn"]
    if perf:
        argv = ["perf", "record", "-e", "cpu-clock", "--call-graph", "dwarf,16384", "-F", "1000",
                "-o", os.path.join(perf, name + ".data")] + argv
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.Popen(argv, stdout=log, stderr=log)
    try:
        p = subprocess.run(probe_args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if p.returncode != 0 or proc.poll() is not None:
            log.close()
            with open(log.name, errors="replace") as f:
                die("%s: %s\ncebridge log:\n%s" % (name, p.stderr.decode("utf-8", "replace"),
                                                  f.read()[-3000:]))
        r = kv(p.stdout.decode())
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
        log.close()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    secs = float(r["seconds"])
    done = a.events - int(r["first"])
    if done < a.events // 2 or secs <= 0:
        # the first progress seen already covered most of the run: no usable rate
        die("%s: progress was first seen at %s of %d; use a larger -n" % (name, r["first"],
                                                                         a.events))
    return done / secs, steady(r), cpu


def main(argv=None):
    ap = argparse.ArgumentParser(prog="tools/bench kafka")
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("-n", "--events", type=int, default=1200000)
    ap.add_argument("--partitions", type=int, default=64)
    ap.add_argument("--repeat", type=int, default=3,
                    help="raw/bridge run pairs per case (default 3)")
    ap.add_argument("-v", "--verbose", action="store_true",
                    help="print each run's rates on stderr as it ends")
    ap.add_argument("--perf", metavar="DIR", help="perf record the bridge runs into DIR")
    ap.add_argument("--source-props", default="{}", metavar="JSON",
                    help="the kafka source's `librdkafka` object (tuning experiments)")
    ap.add_argument("--plugin-dir", help="plugins to run (default BUILD/lib/cebridge/plugins; "
                    "for A/B runs of another plugin build)")
    a, _ = ap.parse_known_args(argv)
    a.build = os.path.abspath(a.build)
    a.plugin_dir = os.path.abspath(a.plugin_dir or os.path.join(a.build, "lib", "cebridge",
                                                                "plugins"))
    n, parts = a.events, a.partitions
    raw_exe = os.path.join(a.build, "bin", "kafka-bench-raw")
    plugdir = a.plugin_dir
    for p in (raw_exe, os.path.join(a.build, "bin", "kafka-mock"),
              os.path.join(a.build, "bin", "cebridge"), os.path.join(plugdir, "kafka.so"),
              os.path.join(plugdir, "file.so")):
        if not os.path.exists(p):
            die("%s not found (build first, or pass --build DIR)" % p)
    with_redis = (os.path.exists(os.path.join(plugdir, "redis.so")) and
                  shutil.which("redis-server") is not None and shutil.which("redis-cli"))
    if a.perf:
        os.makedirs(a.perf, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="ceb-bench-kafka-")
    topics = ["bench:%d" % parts, "plain:%d" % parts]
    topics += ["bridged%d:%d" % (i, parts) for i in range(a.repeat)]
    topics += ["rawp%d:%d" % (i, parts) for i in range(a.repeat)]
    mock = Mock(os.path.join(a.build, "bin", "kafka-mock"), topics)
    redis = None
    rows = []
    try:
        br = mock.brokers
        raw_p = rates(raw(raw_exe, "produce", br, "bench", n, "--binary"), n)
        rows.append(("raw: librdkafka produce, binary CloudEvents", raw_p))
        rows.append(("raw: librdkafka produce, plain records",
                     rates(raw(raw_exe, "produce", br, "plain", n), n)))
        props = json.loads(a.source_props)
        for topic, what in (("bench", "CloudEvents"), ("plain", "plain, wrapped")):
            raw_runs, pairs = [], []
            for i in range(a.repeat):
                # each bridge run right after a raw run: the pair shares the
                # machine's state of the moment, and the median of the
                # pairs' ratios is the figure (the mock's rates swing more
                # between runs than the bridge's cost does)
                raw_runs.append(rates(raw(raw_exe, "consume", br, topic, n), n))
                group = "%s%d" % (topic, i)
                cfg = {"settings": {"max_inflight": 10000},
                       "sources": {"k": {"plugin": "kafka", "brokers": br, "topics": [topic],
                                         "group": group, "commit_interval": "50ms",
                                         "librdkafka": props}},
                       "sinks": {"null": {"plugin": "file", "path": "/dev/null"}},
                       "routes": {"r": {"from": "k", "to": "null"}}}
                r = bridge_run(a, tmp, "kafka-file-%s" % group, cfg,
                               [raw_exe, "committed", br, group, topic, str(n), "300"], a.perf)
                pairs.append((raw_runs[-1], r))
                note(a, "%s pair %d: raw %.0f/s steady %.0f/s whole, bridge %.0f/s %.0f/s"
                     % (topic, i, raw_runs[-1][1], raw_runs[-1][0], r[1], r[0]))
            rows.append(("raw: librdkafka consume, %s" % what.split(",")[0], best_of(raw_runs)))
            rows.append(("cebridge: kafka -> /dev/null, %s" % what, pairs))
        if with_redis:
            redis = Redis()
            redis.fill("in", n)
            pairs = []
            for i in range(a.repeat):
                rp = rates(raw(raw_exe, "produce", br, "rawp%d" % i, n, "--binary"), n)
                cfg = {"settings": {"max_inflight": 10000},
                       "sources": {"rs": {"plugin": "redis",
                                          "url": "redis://127.0.0.1:%d" % redis.port,
                                          "stream": "in", "group": "bench%d" % i,
                                          "consumer": "bench", "start": "0",
                                          "block": "100ms"}},
                       "sinks": {"k": {"plugin": "kafka", "brokers": br,
                                       "topic": "bridged%d" % i}},
                       "routes": {"r": {"from": "rs", "to": "k"}}}
                r = bridge_run(a, tmp, "redis-kafka%d" % i, cfg,
                               [raw_exe, "watermarks", br, "bridged%d" % i, str(n), "300"],
                               a.perf)
                pairs.append((rp, r))
                note(a, "redis pair %d: raw produce %.0f/s steady %.0f/s whole, bridge %.0f/s "
                     "%.0f/s" % (i, rp[1], rp[0], r[1], r[0]))
            rows.append(("cebridge: redis stream -> kafka", pairs))
    finally:
        if redis is not None:
            redis.stop()
        mock.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    print("tools/bench kafka: %d events per case over %d partitions, kafka-mock (3 brokers, "
          "librdkafka %s), %d raw/bridge pairs, build %s"
          % (n, parts, librdkafka_version(), a.repeat, os.path.relpath(a.build)))
    print()
    hdr = "%-44s %10s %10s %7s   %s" % ("case (best run)", "steady/s", "whole/s", "cpu s",
                                        "paired ratio, steady: median (each) | whole: median")
    print(hdr)
    print("-" * len(hdr))
    for name, data in rows:
        if isinstance(data, tuple):  # a raw rate: (whole, steady)
            print("%-44s %10.0f %10.0f" % (name, data[1], data[0]))
            continue
        # bridge pairs: [((raw whole, raw steady), (whole, steady, cpu))]
        b = max((r for _, r in data), key=lambda r: r[1])
        st = [r[1] / q[1] for q, r in data]
        wh = [r[0] / q[0] for q, r in data]
        print("%-44s %10.0f %10.0f %7.2f   %.2f (%s) | %.2f" % (
            name, b[1], b[0], b[2], median(st), " ".join("%.2f" % x for x in st), median(wh)))
    if not with_redis:
        print("(redis -> kafka skipped: redis.so not built or redis-server not installed)")
    print()
    print("target (issue 6): >= 0.70 of raw and >= 200,000 events/s kafka -> file. steady: the "
          "10 % to the 90 % record of each run; whole: raw first record to last, the bridge "
          "from its first commit (or first produced record) to the last, excluding the mock's "
          "~3 s group join")
    return 0


def note(a, msg):
    if a.verbose:
        sys.stderr.write("tools/bench kafka: %s\n" % msg)


def best_of(runs):
    return max(runs, key=lambda r: r[1])


def median(xs):
    xs = sorted(xs)
    k = len(xs) // 2
    return xs[k] if len(xs) % 2 else (xs[k - 1] + xs[k]) / 2


def librdkafka_version():
    try:
        p = subprocess.run(["pkg-config", "--modversion", "rdkafka"], stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL)
        return p.stdout.decode().strip() or "?"
    except OSError:
        return "?"


if __name__ == "__main__":
    sys.exit(main())
