#!/usr/bin/env python3
"""Integration tests of the cebridge core, running the real binary.

Issue 3, "How it is checked": routing with exact counts, fan-out, --check,
retry timing, dead-lettering, a failing dead letter, SIGHUP, SIGTERM drain,
bounded memory under a slow sink, invalid input lines.

Each test writes its drop-ins into a fresh temporary directory, copies the
built plugins (build/lib/cebridge/plugins/*.so and the test plugins gen.so,
flaky.so from build/tests/plugins) into a private plugin directory, runs
build/bin/cebridge with --plugin-dir on it, drives it until a condition or a
deadline and kills what it started by PID.

    python3 tests/integration/test_core.py --build build [-v] [TestCore.test_retry]

Set CEB_KEEP_TMP=1 to keep the temporary directories for inspection.
Python 3 standard library only.
"""
import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

BUILD = None
SCALE = 1.0          # deadlines are multiplied by this (x4 under sanitizers)
SANITIZED = False


def monotonic_ms():
    # CLOCK_MONOTONIC, the clock uv_hrtime() reads in the test plugins.
    return time.clock_gettime(time.CLOCK_MONOTONIC) * 1000.0


def wait_until(cond, timeout, what, bridge=None):
    """Poll cond() until it returns a true value or the deadline passes."""
    deadline = time.monotonic() + timeout * SCALE
    while True:
        v = cond()
        if v:
            return v
        if bridge is not None and not bridge.alive():
            v = cond()
            if v:
                return v
            raise AssertionError("cebridge exited (status %s) while waiting for %s; log:\n%s"
                                 % (bridge.proc.returncode, what, bridge.log_tail()))
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.1fs waiting for %s"
                                 % (timeout * SCALE, what))
        time.sleep(0.02)


def read_lines(path):
    try:
        with open(path, "r", encoding="utf-8", errors="replace") as f:
            data = f.read()
    except FileNotFoundError:
        return []
    lines = data.split("\n")
    # Drop a trailing partial line (the writer may be mid-line).
    return [ln for ln in lines[:-1] if ln != ""]


def read_events(path):
    return [json.loads(ln) for ln in read_lines(path)]


def read_acks(path):
    """ack_log of the gen source: ([(batch, status, ms)], pauses, resumes)."""
    acks, pauses, resumes = [], 0, 0
    for ln in read_lines(path):
        f = ln.split()
        if f[0] == "end":
            continue
        if f[0] == "pause":
            pauses += 1
        elif f[0] == "resume":
            resumes += 1
        elif len(f) >= 2 and f[1] != "emit-error":
            acks.append((int(f[0]), int(f[1]), float(f[2]) if len(f) > 2 else None))
    return acks, pauses, resumes


def read_record(path):
    """record file of the flaky sink: [(id, attempt, outcome, ms)]."""
    out = []
    for ln in read_lines(path):
        f = ln.split()
        out.append((f[0], int(f[1]), f[2], float(f[3])))
    return out


class Bridge:
    """One cebridge process with its own drop-in and plugin directories."""

    def __init__(self, tc, name):
        self.tc = tc
        self.tmp = tempfile.mkdtemp(prefix="ceb-it-%s-" % name)
        self.conf = os.path.join(self.tmp, "conf.d")
        self.plugins = os.path.join(self.tmp, "plugins")
        os.mkdir(self.conf, 0o700)
        os.mkdir(self.plugins, 0o700)
        sodirs = [os.path.join(BUILD, "lib", "cebridge", "plugins")]
        copied = 0
        for d in sodirs:
            for fn in sorted(os.listdir(d)) if os.path.isdir(d) else []:
                if fn.endswith(".so"):
                    self._copy(os.path.join(d, fn))
                    copied += 1
        for fn in ("gen.so", "flaky.so"):
            p = os.path.join(BUILD, "tests", "plugins", fn)
            if not os.path.exists(p):
                raise unittest.SkipTest("test plugin %s is not built" % p)
            self._copy(p)
        self.proc = None
        self.log_path = self.path("cebridge.log")
        self.out_path = self.path("cebridge.out")
        self.rusage = None

    def _copy(self, src):
        dst = os.path.join(self.plugins, os.path.basename(src))
        shutil.copyfile(src, dst)
        os.chmod(dst, 0o755)

    def path(self, name):
        return os.path.join(self.tmp, name)

    def write(self, name, obj):
        """Write a drop-in: a dict (as JSON) or text as is."""
        text = obj if isinstance(obj, str) else json.dumps(obj, indent=2)
        p = os.path.join(self.conf, name)
        with open(p + ".tmp", "w") as f:
            f.write(text)
        os.replace(p + ".tmp", p)   # a reload never sees half a file
        return p

    def remove(self, name):
        os.unlink(os.path.join(self.conf, name))

    def argv(self, *extra):
        return [os.path.join(BUILD, "bin", "cebridge"), "-c", self.conf,
                "--plugin-dir", self.plugins] + list(extra)

    def env(self):
        env = dict(os.environ)
        # Keep ASan's quarantine small so RSS reflects the program's own use.
        env.setdefault("ASAN_OPTIONS", "quarantine_size_mb=16:detect_leaks=1")
        return env

    def start(self, *extra, stdin=None):
        for f in ("_out", "_log"):
            if hasattr(self, f):
                getattr(self, f).close()
        self._out = open(self.out_path, "ab")
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.argv("--log-level", "info", *extra),
                                     stdin=stdin if stdin is not None else subprocess.DEVNULL,
                                     stdout=self._out, stderr=self._log, env=self.env())
        return self.proc

    def run(self, *extra, timeout=30):
        """Run to completion (e.g. --check). Returns (rc, stdout, stderr)."""
        p = subprocess.Popen(self.argv(*extra), stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=self.env())
        try:
            out, err = p.communicate(timeout=timeout * SCALE)
        except subprocess.TimeoutExpired:
            os.kill(p.pid, signal.SIGKILL)
            p.communicate()
            raise AssertionError("cebridge %s did not finish in %ss" % (extra, timeout * SCALE))
        return p.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")

    def poll(self):
        """Reap the process if it has exited (keeping its rusage); its status or None."""
        if self.proc.returncode is None:
            pid, status, ru = os.wait4(self.proc.pid, os.WNOHANG)
            if pid == self.proc.pid:
                self.rusage = ru
                self.proc.returncode = os.waitstatus_to_exitcode(status)
        return self.proc.returncode

    def wait(self, timeout):
        """Wait for the process to exit by itself; returns its status."""
        deadline = time.monotonic() + timeout * SCALE
        while True:
            if self.poll() is not None:
                return self.proc.returncode
            if time.monotonic() > deadline:
                self.kill()
                raise AssertionError("cebridge did not exit within %.1fs; log tail:\n%s"
                                     % (timeout * SCALE, self.log_tail()))
            time.sleep(0.02)

    def signal(self, sig):
        os.kill(self.proc.pid, sig)

    def alive(self):
        return self.proc is not None and self.poll() is None

    def kill(self):
        if self.proc is not None and self.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            os.waitpid(self.proc.pid, 0)
            self.proc.returncode = -signal.SIGKILL

    def log(self):
        try:
            with open(self.log_path, "r", encoding="utf-8", errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def log_tail(self, n=30):
        return "\n".join(self.log().splitlines()[-n:])

    SANITIZER_RE = re.compile(r"ERROR: (Address|Leak|Undefined)Sanitizer|runtime error: ")

    def close(self):
        self.kill()
        log = self.log()
        m = self.SANITIZER_RE.search(log)
        if m:
            self._close_files(keep=True)
            raise AssertionError("sanitizer report in %s:\n%s"
                                 % (self.log_path, log[m.start():m.start() + 3000]))
        self._close_files(keep=bool(os.environ.get("CEB_KEEP_TMP")))

    def _close_files(self, keep):
        for f in ("_out", "_log"):
            if hasattr(self, f):
                getattr(self, f).close()
        if keep:
            sys.stderr.write("kept %s\n" % self.tmp)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)


def ce(i, typ, **extra):
    ev = {"specversion": "1.0", "id": "e-%d" % i, "source": "/it/core", "type": typ,
          "datacontenttype": "application/json", "data": {"i": i}}
    ev.update(extra)
    return ev


def write_events(path, events):
    with open(path, "w") as f:
        for ev in events:
            f.write(json.dumps(ev, separators=(",", ":")))
            f.write("\n")


class TestCore(unittest.TestCase):

    def bridge(self, name):
        b = Bridge(self, name)
        self.addCleanup(b.close)
        return b

    def assertExitedCleanly(self, b, timeout):
        rc = b.wait(timeout)
        self.assertEqual(rc, 0, "cebridge exit status %s; log tail:\n%s" % (rc, b.log_tail()))

    # ------------------------------------------------------------------
    def test_routes_100k_exact_counts(self):
        """100,000 events, 3 filtered routes (exact, LIKE, IN), exact counts."""
        b = self.bridge("routes")
        types = ["com.example.order.created",      # route exact
                 "com.example.user.signup",        # route like
                 "com.example.user.login",         # route like
                 "com.example.pay.card",           # route in
                 "com.example.pay.cash",           # route in
                 "com.example.pay.crypto",         # no route
                 "com.example.order.created.v2"]   # no route
        n = 100000
        inp = b.path("in.jsonl")
        write_events(inp, (ce(i, types[i % len(types)]) for i in range(n)))
        outs = {k: b.path("out-%s.jsonl" % k) for k in ("exact", "like", "in")}
        b.write("10-io.json", {
            "sources": {"in": {"plugin": "file", "path": inp}},
            "sinks": {"s-%s" % k: {"plugin": "file", "path": p} for k, p in outs.items()},
        })
        b.write("20-routes.json", {"routes": {
            "r-exact": {"from": ["in"], "to": ["s-exact"],
                        "filter": "type = 'com.example.order.created'"},
            "r-like": {"from": ["in"], "to": ["s-like"],
                       "filter": "type LIKE 'com.example.user.%'"},
            "r-in": {"from": ["in"], "to": ["s-in"],
                     "filter": "type IN ('com.example.pay.card', 'com.example.pay.cash')"},
        }})
        t0 = time.monotonic()
        b.start()
        self.assertExitedCleanly(b, 120)
        elapsed = time.monotonic() - t0
        want = {"exact": {0}, "like": {1, 2}, "in": {3, 4}}
        seen = set()
        for k, p in outs.items():
            evs = read_events(p)
            ids = [e["id"] for e in evs]
            expect = {"e-%d" % i for i in range(n) if i % len(types) in want[k]}
            self.assertEqual(len(ids), len(expect), "route %s: count" % k)
            self.assertEqual(set(ids), expect, "route %s: ids" % k)
            for e in evs[:50]:
                self.assertEqual(e["type"], types[int(e["id"][2:]) % len(types)])
                self.assertEqual(e["data"], {"i": int(e["id"][2:])})
            seen |= set(ids)
        unrouted = {"e-%d" % i for i in range(n) if i % len(types) in (5, 6)}
        self.assertFalse(seen & unrouted, "unmatched events were delivered")
        self.assertEqual(len(seen) + len(unrouted), n, "every id accounted for")
        sys.stderr.write("[100k events in %.2fs] " % elapsed)

    # ------------------------------------------------------------------
    def test_fan_out(self):
        """One route to two sinks; two routes sharing a sink get a copy each."""
        b = self.bridge("fanout")
        n = 1000
        inp = b.path("in.jsonl")
        write_events(inp, (ce(i, ["a.one", "a.two", "b.one"][i % 3]) for i in range(n)))
        b.write("10.json", {
            "sources": {"in": {"plugin": "file", "path": inp}},
            "sinks": {"s1": {"plugin": "file", "path": b.path("s1.jsonl")},
                      "s2": {"plugin": "file", "path": b.path("s2.jsonl")},
                      "s3": {"plugin": "file", "path": b.path("s3.jsonl")}},
            "routes": {
                "to-both": {"from": ["in"], "to": ["s1", "s2"]},
                "one": {"from": ["in"], "to": ["s3"], "filter": "type LIKE '%.one'"},
                "a": {"from": ["in"], "to": ["s3"], "filter": "type LIKE 'a.%'"},
            }})
        b.start()
        self.assertExitedCleanly(b, 60)
        all_ids = sorted("e-%d" % i for i in range(n))
        for s in ("s1", "s2"):
            self.assertEqual(sorted(e["id"] for e in read_events(b.path(s + ".jsonl"))),
                             all_ids, s)
        counts = {}
        for e in read_events(b.path("s3.jsonl")):
            counts[e["id"]] = counts.get(e["id"], 0) + 1
        for i in range(n):
            want = {0: 2, 1: 1, 2: 1}[i % 3]   # a.one matches both routes
            self.assertEqual(counts.get("e-%d" % i, 0), want, "copies of e-%d in s3" % i)

    # ------------------------------------------------------------------
    def test_check_reports_every_error(self):
        b = self.bridge("check")
        f_json = b.write("10-malformed.json",
                         '{\n  "sources": {\n    "x": { "plugin": "file" "path": "-" }\n  }\n}\n')
        f_plug = b.write("20-unknown-plugin.json",
                         '{\n  "sinks": {\n    "nope": { "plugin": "nosuchplugin" }\n  }\n}\n')
        f_opt = b.write("30-unknown-option.json",
                        '{\n  "sources": { "in": { "plugin": "file", "path": "-" } },\n'
                        '  "sinks": {\n    "out": { "plugin": "file", "path": "-",\n'
                        '             "colour": "red" }\n  }\n}\n')
        f_flt = b.write("40-bad-filter.json",
                        '{\n  "routes": {\n    "r": { "from": ["in"], "to": ["out"],\n'
                        '           "filter": "type = " }\n  }\n}\n')
        rc, out, err = b.run("--check")
        text = out + err
        self.assertEqual(rc, 1, text)
        lines = [ln for ln in text.splitlines() if ln.strip()]

        # Every error, each as FILE:LINE:COL: path: message (a syntax error has no
        # JSON path), with the file as named through -c DIR.
        expect = [
            "%s:3:29: expected ',' or '}' after object member" % f_json,
            "%s:3:25: sinks.nope.plugin: plugin nosuchplugin: no such plugin in %s "
            "(available: " % (f_plug, b.plugins),
            "%s:5:14: sinks.out.colour: unknown option (allowed: path, " % f_opt,
            "%s:4:30: routes.r.filter: unexpected end of expression, expected a value, "
            "an attribute, a function call or '('" % f_flt,
        ]
        for want in expect:
            self.assertTrue(any(ln.startswith(want) for ln in lines),
                            "missing error line %r in:\n%s" % (want, text))

        # A good configuration: exit 0 and a one-line summary.
        for f in (f_json, f_plug, f_opt, f_flt):
            os.unlink(f)
        b.write("10-good.json", {
            "sources": {"in": {"plugin": "file", "path": "-"}},
            "sinks": {"out": {"plugin": "file", "path": "-"}},
            "routes": {"r": {"from": ["in"], "to": ["out"], "filter": "type LIKE 'a.%'"}}})
        rc, out, err = b.run("--check")
        self.assertEqual(rc, 0, out + err)
        summary = [ln for ln in (out + err).splitlines() if ln.strip()]
        self.assertEqual(summary, ["configuration OK: 1 files, 1 sources, 1 sinks, 1 routes"])

    def test_check_exact_messages(self):
        """The exact text of two errors whose wording the config module owns."""
        b = self.bridge("checkmsg")
        f = b.write("10.json",
                    '{\n  "sources": { "in": { "plugin": "file", "path": "-" } },\n'
                    '  "sinks": { "out": { "plugin": "file" } },\n'
                    '  "routes": { "r": { "from": ["in"], "to": ["nowhere"] } }\n}\n')
        rc, out, err = b.run("--check")
        self.assertEqual(rc, 1, out + err)
        text = out + err
        # Required option missing (the file sink's path) and a route end that does not exist.
        lines = text.splitlines()
        self.assertIn("%s:3:14: sinks.out.path: required option missing" % f, lines)
        self.assertIn("%s:4:45: routes.r.to[0]: unknown sink 'nowhere'" % f, lines)

    # ------------------------------------------------------------------
    def test_retry_then_delivered(self):
        b = self.bridge("retry")
        rec, acks = b.path("record"), b.path("acks")
        b.write("10.json", {
            "sources": {"g": {"plugin": "gen", "count": 3, "ack_log": acks}},
            "sinks": {"f": {"plugin": "flaky", "fail_times": 3, "record": rec}},
            "routes": {"r": {"from": ["g"], "to": ["f"],
                             "retry": {"attempts": 5, "backoff": "exponential",
                                       "initial": "50ms", "max": "1s", "timeout": "10s"}}}})
        b.start()
        self.assertExitedCleanly(b, 60)
        records = read_record(rec)
        acked, _, _ = read_acks(acks)
        self.assertEqual(sorted((a[0], a[1]) for a in acked), [(0, 0), (1, 0), (2, 0)])
        for n in range(3):
            rs = [r for r in records if r[0] == "gen-%d" % n]
            self.assertEqual([(r[1], r[2]) for r in rs],
                             [(1, "RETRY"), (2, "RETRY"), (3, "RETRY"), (4, "OK")],
                             "attempts of gen-%d" % n)
            for prev, cur in zip(rs, rs[1:]):
                gap = cur[3] - prev[3]
                # full jitter in [0, min(max, initial * 2^k)]; generous slack for the
                # loop and the machine, but never above the cap by much.
                self.assertGreaterEqual(gap, 0)
                self.assertLessEqual(gap, 1000 + 750 * SCALE, "gap of gen-%d" % n)
            ack = [a for a in acked if a[0] == n][0]
            self.assertGreaterEqual(ack[2], rs[-1][3], "ack of batch %d before delivery" % n)

    def test_retry_exhausted_without_dead_letter_nacks(self):
        b = self.bridge("exhaust")
        rec, acks = b.path("record"), b.path("acks")
        b.write("10.json", {
            "sources": {"g": {"plugin": "gen", "count": 1, "ack_log": acks}},
            "sinks": {"f": {"plugin": "flaky", "fail_all": True, "record": rec}},
            "routes": {"r": {"from": ["g"], "to": ["f"],
                             "retry": {"attempts": 3, "initial": "10ms", "max": "50ms"}}}})
        b.start()
        wait_until(lambda: read_acks(acks)[0], 30, "the ack of batch 0", b)
        acked, _, _ = read_acks(acks)
        self.assertEqual(len(acked), 1)
        self.assertLess(acked[0][1], 0, "an event that was neither delivered nor "
                        "dead-lettered must not be acknowledged")
        self.assertEqual([r[1] for r in read_record(rec)], [1, 2, 3])
        # Nothing in flight and the source ended: the process exits by itself.
        self.assertExitedCleanly(b, 30)

    def test_attempt_timeout_retries_then_dead_letters(self):
        """A sink slower than retry.timeout: each attempt times out, then dead letter."""
        b = self.bridge("timeout")
        rec, acks, dlq = b.path("record"), b.path("acks"), b.path("dlq.jsonl")
        b.write("10.json", {
            "sources": {"g": {"plugin": "gen", "count": 1, "ack_log": acks}},
            "sinks": {"slow": {"plugin": "flaky", "delay": "400ms", "record": rec},
                      "dlq": {"plugin": "file", "path": dlq}},
            "routes": {"r": {"from": ["g"], "to": ["slow"], "dead_letter": "dlq",
                             "retry": {"attempts": 3, "initial": "10ms", "max": "20ms",
                                       "timeout": "50ms"}}}})
        b.start()
        self.assertExitedCleanly(b, 30)
        evs = read_events(dlq)
        self.assertEqual([e["id"] for e in evs], ["gen-0"])
        self.assertEqual(str(evs[0].get("cebdlqattempts")), "3")
        self.assertRegex(evs[0].get("cebdlqreason", ""), r"(?i)time")
        acked, _, _ = read_acks(acks)
        self.assertEqual([(a[0], a[1]) for a in acked], [(0, 0)])
        # The operator is told that a timed-out attempt keeps its slot.
        self.assertRegex(b.log(), r"component=sink/slow msg=\"attempt timed out after 50 ms; "
                         r"the attempt keeps its in-flight slot until the sink completes it "
                         r"\(\d+ such attempts now\)\"")

    def test_transform_sets_and_removes(self):
        b = self.bridge("transform")
        inp, out = b.path("in.jsonl"), b.path("out.jsonl")
        write_events(inp, (ce(i, "tr.t%d" % (i % 2), foo="bar", keep="yes") for i in range(10)))
        b.write("10.json", {
            "sources": {"in": {"plugin": "file", "path": inp}},
            "sinks": {"out": {"plugin": "file", "path": out}},
            "routes": {"r": {"from": ["in"], "to": ["out"], "filter": "type = 'tr.t1'",
                             "transform": {"set": {"subject": "via-{type}-{id}"},
                                           "remove": ["foo"]}}}})
        b.start()
        self.assertExitedCleanly(b, 30)
        evs = read_events(out)
        self.assertEqual([e["id"] for e in evs], ["e-%d" % i for i in range(1, 10, 2)])
        for e in evs:
            self.assertEqual(e["subject"], "via-tr.t1-%s" % e["id"])
            self.assertNotIn("foo", e)
            self.assertEqual(e["keep"], "yes")

    # ------------------------------------------------------------------
    def test_permanent_goes_to_dead_letter(self):
        b = self.bridge("dlq")
        rec, acks, dlq = b.path("record"), b.path("acks"), b.path("dlq.jsonl")
        b.write("10.json", {
            "sources": {"g": {"plugin": "gen", "count": 3, "ack_log": acks}},
            "sinks": {"f": {"plugin": "flaky", "permanent": True, "record": rec},
                      "dlq": {"plugin": "file", "path": dlq}},
            "routes": {"r": {"from": ["g"], "to": ["f"], "dead_letter": "dlq",
                             "retry": {"attempts": 5, "initial": "10ms", "max": "100ms"}}}})
        b.start()
        self.assertExitedCleanly(b, 60)
        evs = read_events(dlq)
        self.assertEqual(sorted(e["id"] for e in evs), ["gen-0", "gen-1", "gen-2"])
        for e in evs:
            self.assertIn("flaky: permanent failure", e.get("cebdlqreason", ""))
            self.assertEqual(e.get("cebdlqroute"), "r")
            self.assertIn(str(e.get("cebdlqattempts")), ("1",))
            self.assertEqual(e["data"]["n"], int(e["id"][4:]))   # the original data
        records = read_record(rec)
        self.assertEqual(sorted((r[0], r[1], r[2]) for r in records),
                         [("gen-%d" % i, 1, "PERMANENT") for i in range(3)],
                         "a permanent failure is not retried")
        acked, _, _ = read_acks(acks)
        self.assertEqual(sorted((a[0], a[1]) for a in acked), [(0, 0), (1, 0), (2, 0)])
        for a in acked:
            fail = [r for r in records if r[0] == "gen-%d" % a[0]][0]
            self.assertGreaterEqual(a[2], fail[3])

    def test_failing_dead_letter_nacks(self):
        b = self.bridge("dlqfail")
        rec, drec, acks = b.path("record"), b.path("dlq-record"), b.path("acks")
        b.write("10.json", {
            "sources": {"g": {"plugin": "gen", "count": 2, "ack_log": acks}},
            "sinks": {"f": {"plugin": "flaky", "permanent": True, "record": rec},
                      "dlq": {"plugin": "flaky", "permanent": True, "record": drec}},
            "routes": {"r": {"from": ["g"], "to": ["f"], "dead_letter": "dlq",
                             "retry": {"attempts": 2, "initial": "10ms", "max": "50ms"}}}})
        b.start()
        wait_until(lambda: len(read_acks(acks)[0]) >= 2, 30, "two acks", b)
        acked, _, _ = read_acks(acks)
        self.assertEqual(sorted(a[0] for a in acked), [0, 1])
        for a in acked:
            self.assertLess(a[1], 0, "batch %d acknowledged although its dead-letter "
                            "write failed" % a[0])
        dl = read_record(drec)
        self.assertEqual(sorted(r[0] for r in dl), ["gen-0", "gen-1"],
                         "each failed event reached the dead letter once")
        for r in read_record(rec) + dl:
            self.assertNotEqual(r[2], "OK")
        # Nacked, nothing in flight and the source ended: the process exits by itself.
        self.assertExitedCleanly(b, 30)

    # ------------------------------------------------------------------
    def test_crash_and_restart_loses_nothing(self):
        """kill -9 mid-run, restart from offset_file: every event delivered at least once."""
        b = self.bridge("crash")
        n = 20000
        inp, rec, off = b.path("in.jsonl"), b.path("record"), b.path("in.offset")
        write_events(inp, (ce(i, "c.t") for i in range(n)))
        b.write("10.json", {
            "sources": {"in": {"plugin": "file", "path": inp, "offset_file": off}},
            "sinks": {"s": {"plugin": "flaky", "delay": "1ms", "record": rec,
                            "max_inflight": 50}},
            "routes": {"r": {"from": ["in"], "to": ["s"]}}})
        b.start()
        wait_until(lambda: len(read_lines(rec)) >= 2000, 60, "2000 deliveries", b)
        os.kill(b.proc.pid, signal.SIGKILL)
        b.wait(10)
        first = {r[0] for r in read_record(rec) if r[2] == "OK"}
        self.assertLess(len(first), n, "the first run finished before the kill")
        self.assertTrue(os.path.exists(off), "no offset recorded")
        os.rename(rec, rec + ".1")
        b.start()
        self.assertExitedCleanly(b, 120)
        second = [r[0] for r in read_record(rec) if r[2] == "OK"]
        self.assertLess(len(second), n, "the restart did not resume from the offset")
        missing = {"e-%d" % i for i in range(n)} - first - set(second)
        self.assertFalse(missing, "%d events lost across the crash, e.g. %s"
                         % (len(missing), sorted(missing)[:5]))

    # ------------------------------------------------------------------
    def test_sighup_reload(self):
        b = self.bridge("hup")
        out1, out2 = b.path("out1.jsonl"), b.path("out2.jsonl")
        b.write("10.json", {
            "sources": {"g": {"plugin": "gen", "count": 1000000, "interval": "10ms",
                              "type_pattern": "hup.{n%2}"}},
            "sinks": {"o1": {"plugin": "file", "path": out1}},
            "routes": {"r1": {"from": ["g"], "to": ["o1"]}}})
        b.start()
        wait_until(lambda: len(read_lines(out1)) >= 5, 30, "first deliveries", b)

        broken = b.write("90-broken.json", '{ "sinks": { "x": { "plugin": \n')
        b.signal(signal.SIGHUP)
        wait_until(lambda: "90-broken.json" in b.log(), 30,
                   "the reload error naming 90-broken.json", b)
        n1 = len(read_lines(out1))
        wait_until(lambda: len(read_lines(out1)) >= n1 + 10, 30,
                   "deliveries after the failed reload", b)
        self.assertTrue(b.alive())

        os.unlink(broken)
        b.write("60-more.json", {
            "sinks": {"o2": {"plugin": "file", "path": out2}},
            "routes": {"r2": {"from": ["g"], "to": ["o2"], "filter": "type = 'hup.1'"}}})
        b.signal(signal.SIGHUP)
        wait_until(lambda: len(read_lines(out2)) >= 5, 30, "deliveries on the new route",
                   b)
        n1 = len(read_lines(out1))
        wait_until(lambda: len(read_lines(out1)) >= n1 + 10, 30,
                   "deliveries on the old route after the reload", b)
        b.signal(signal.SIGTERM)
        self.assertExitedCleanly(b, 30)

        ids = [int(e["id"][4:]) for e in read_events(out1)]
        self.assertEqual(ids, sorted(set(ids)),
                         "the unchanged gen source was restarted or repeated events")
        self.assertEqual(ids[0], 0)
        for e in read_events(out2):
            self.assertEqual(e["type"], "hup.1")

    # ------------------------------------------------------------------
    def test_sigterm_drains(self):
        b = self.bridge("drain")
        rec, acks = b.path("record"), b.path("acks")
        b.write("10.json", {
            "settings": {"drain_timeout": "2s"},
            "sources": {"g": {"plugin": "gen", "count": 1000, "ack_log": acks}},
            "sinks": {"slow": {"plugin": "flaky", "delay": "300ms", "record": rec,
                               "max_inflight": 10}},
            "routes": {"r": {"from": ["g"], "to": ["slow"]}}})
        b.start()
        wait_until(lambda: len(read_record(rec)) >= 10, 30, "some deliveries", b)
        t0 = time.monotonic()
        b.signal(signal.SIGTERM)
        rc = b.wait(2 + 5)
        took = time.monotonic() - t0
        self.assertEqual(rc, 0, b.log_tail())
        self.assertLessEqual(took, 2 + 3 * SCALE, "drain exceeded drain_timeout + margin")
        delivered = {r[0] for r in read_record(rec) if r[2] == "OK"}
        acked, _, _ = read_acks(acks)
        batches = [a[0] for a in acked]
        self.assertEqual(len(batches), len(set(batches)), "a batch was acked twice")
        for a in acked:
            if a[1] == 0:
                self.assertIn("gen-%d" % a[0], delivered,
                              "batch %d acknowledged but never delivered" % a[0])
        self.assertLess(len(delivered), 1000, "shutdown did not cut the run short")
        ok = sum(1 for a in acked if a[1] == 0)
        self.assertGreaterEqual(ok, 10)

    def test_sigterm_drain_deadline(self):
        """Deliveries that outlast drain_timeout: exit 0 on time, nothing acknowledged."""
        b = self.bridge("deadline")
        rec, acks, infl = b.path("record"), b.path("acks"), b.path("inflight")
        b.write("10.json", {
            "settings": {"drain_timeout": "1s"},
            "sources": {"g": {"plugin": "gen", "count": 5, "ack_log": acks}},
            "sinks": {"stuck": {"plugin": "flaky", "delay": "1h", "record": rec,
                                "inflight_record": infl}},
            "routes": {"r": {"from": ["g"], "to": ["stuck"],
                             "retry": {"attempts": 3, "timeout": "2h"}}}})
        b.start()
        wait_until(lambda: len(read_lines(infl)) >= 5, 30, "5 deliveries in flight", b)
        t0 = time.monotonic()
        b.signal(signal.SIGTERM)
        rc = b.wait(1 + 10)
        took = time.monotonic() - t0
        self.assertEqual(rc, 0, b.log_tail())
        self.assertLessEqual(took, 1 + 3 * SCALE, "exceeded drain_timeout + margin")
        acked, _, _ = read_acks(acks)
        self.assertFalse([a for a in acked if a[1] == 0],
                         "an undelivered event was acknowledged")
        self.assertFalse([r for r in read_record(rec) if r[2] == "OK"])

    def stuck_bridge(self, name, drain):
        """gen -> a sink that holds every delivery for an hour."""
        b = self.bridge(name)
        acks, infl = b.path("acks"), b.path("inflight")
        b.write("10.json", {
            "settings": {"drain_timeout": drain},
            "sources": {"g": {"plugin": "gen", "count": 5, "ack_log": acks}},
            "sinks": {"stuck": {"plugin": "flaky", "delay": "1h", "inflight_record": infl}},
            "routes": {"r": {"from": ["g"], "to": ["stuck"],
                             "retry": {"attempts": 1, "timeout": "2h"}}}})
        b.start()
        wait_until(lambda: len(read_lines(infl)) >= 5, 30, "5 deliveries in flight", b)
        return b, acks

    def test_sighup_while_draining_is_logged_and_ignored(self):
        """SIGHUP during the drain: no reload, a warning, the drain goes on."""
        b, acks = self.stuck_bridge("hup-drain", "2s")
        b.signal(signal.SIGTERM)
        wait_until(lambda: "SIGTERM: draining" in b.log(), 10, "the drain to start", b)
        b.signal(signal.SIGHUP)
        wait_until(lambda: "SIGHUP ignored: shutting down" in b.log(), 10,
                   "the SIGHUP warning", b)
        self.assertEqual(b.wait(2 + 10), 0, b.log_tail())
        self.assertNotIn("reloading", b.log())
        acked, _, _ = read_acks(acks)
        self.assertFalse([a for a in acked if a[1] == 0],
                         "an undelivered event was acknowledged")

    def test_second_sigterm_exits_at_once(self):
        """A second SIGTERM during a long drain exits 1 without waiting."""
        b, acks = self.stuck_bridge("term2", "1h")
        b.signal(signal.SIGTERM)
        wait_until(lambda: "SIGTERM: draining" in b.log(), 10, "the drain to start", b)
        b.signal(signal.SIGTERM)
        self.assertEqual(b.wait(10), 1, b.log_tail())
        self.assertIn("second SIGTERM: exiting immediately without draining", b.log())
        acked, _, _ = read_acks(acks)
        self.assertFalse([a for a in acked if a[1] == 0],
                         "an undelivered event was acknowledged")

    def test_failed_reload_keeps_log_settings(self):
        """settings.log_format of a reload that fails does not take effect."""
        b = self.bridge("hup-logfmt")
        out = b.path("out.jsonl")
        b.write("10.json", {
            "sources": {"g": {"plugin": "gen", "count": 1000000, "interval": "10ms"}},
            "sinks": {"o": {"plugin": "file", "path": out}},
            "routes": {"r": {"from": ["g"], "to": ["o"]}}})
        b.start()
        wait_until(lambda: len(read_lines(out)) >= 5, 30, "first deliveries", b)
        b.write("05-settings.json", {"settings": {"log_format": "json"}})
        broken = b.write("90-broken.json", '{ "sinks": { "x": { "plugin": \n')
        b.signal(signal.SIGHUP)
        wait_until(lambda: "reload failed" in b.log(), 30, "the reload to fail", b)
        failed = [ln for ln in b.log().splitlines() if "reload failed" in ln]
        self.assertTrue(failed[0].startswith("ts="),
                        "log format changed by a reload that failed: %s" % failed[0])
        # a reload that succeeds applies it
        os.unlink(broken)
        b.signal(signal.SIGHUP)
        wait_until(lambda: '"msg":"configuration reloaded"' in b.log(), 30,
                   "JSON log lines after a good reload", b)
        b.signal(signal.SIGTERM)
        self.assertExitedCleanly(b, 30)

    # ------------------------------------------------------------------
    def backpressure(self, drive, n):
        b = self.bridge("bp-" + drive)
        acks, infl = b.path("acks"), b.path("inflight")
        b.write("10.json", {
            "sources": {"g": {"plugin": "gen", "count": n, "data_size": "1KiB",
                              "drive": drive, "ack_log": acks}},
            "sinks": {"slow": {"plugin": "flaky", "delay": "1ms", "max_inflight": 100,
                               "inflight_record": infl}},
            "routes": {"r": {"from": ["g"], "to": ["slow"]}}})
        b.start()
        peak_kib = 0
        deadline = time.monotonic() + 300 * SCALE
        while b.alive() and time.monotonic() < deadline:
            try:
                with open("/proc/%d/status" % b.proc.pid) as f:
                    m = re.search(r"VmHWM:\s+(\d+) kB", f.read())
                    if m:
                        peak_kib = max(peak_kib, int(m.group(1)))
            except (FileNotFoundError, ProcessLookupError):
                break
            time.sleep(0.05)
        self.assertExitedCleanly(b, 5)
        # Not rusage.ru_maxrss: Linux carries the forking Python's RSS over exec
        # into it. VmHWM belongs to cebridge's own address space.
        bound_mib = 600 if SANITIZED else 200
        sys.stderr.write("[peak RSS %.1f MiB] " % (peak_kib / 1024.0))
        lines = read_lines(acks)
        first_pause = lines.index("pause") if "pause" in lines else None
        end = [i for i, ln in enumerate(lines) if ln.startswith("end ")]
        self.assertIsNotNone(first_pause, "the source was never paused")
        self.assertTrue(end, "the source never ended")
        self.assertLess(first_pause, end[0],
                        "the source was paused only after it had emitted all %d events: "
                        "the host never let the loop turn while it emitted" % n)
        # Unbounded buffering of 200,000 events of ~1.1 KiB would need > 220 MiB
        # for the data alone.
        self.assertLess(peak_kib, bound_mib * 1024, "peak RSS %d KiB" % peak_kib)
        acked, pauses, resumes = read_acks(acks)
        self.assertEqual(len(acked), n)
        self.assertTrue(all(a[1] == 0 for a in acked))
        self.assertGreater(resumes, 0, "the source was never resumed")
        peak_inflight = max((int(ln.split()[1]) for ln in read_lines(infl)), default=0)
        self.assertLessEqual(peak_inflight, 100, "sink max_inflight exceeded")

    def test_backpressure_bounds_memory(self):
        """200,000 events of 1 KiB into a slow sink: paused, resumed, RSS bounded."""
        self.backpressure("idle", 200000)

    def test_backpressure_timer_driven_source(self):
        """A source re-arming a 0 ms host timer must still be paused in time."""
        self.backpressure("timer", 20000)

    def test_backpressure_post_driven_source(self):
        """A source re-posting itself with host->post must still be paused in time."""
        self.backpressure("post", 20000)

    # ------------------------------------------------------------------
    def test_invalid_line_goes_to_dead_letter(self):
        b = self.bridge("badline")
        inp, out, dlq = b.path("in.jsonl"), b.path("out.jsonl"), b.path("dlq.jsonl")
        with open(inp, "w") as f:
            f.write(json.dumps(ce(1, "ok.t")) + "\n")
            f.write("this is not json at all\n")
            f.write(json.dumps(ce(3, "ok.t")) + "\n")
            f.write(json.dumps(ce(4, "ok.t")) + "\n")
        b.write("10.json", {
            "sources": {"in": {"plugin": "file", "path": inp}},
            "sinks": {"out": {"plugin": "file", "path": out},
                      "dlq": {"plugin": "file", "path": dlq}},
            "routes": {"r": {"from": ["in"], "to": ["out"], "dead_letter": "dlq"}}})
        b.start()
        self.assertExitedCleanly(b, 30)
        self.assertEqual([e["id"] for e in read_events(out)], ["e-1", "e-3", "e-4"])
        dl = read_events(dlq)
        self.assertEqual(len(dl), 1, "the invalid line reaches the dead letter once")
        payload = dl[0].get("data")
        if payload is None and "data_base64" in dl[0]:
            import base64
            payload = base64.b64decode(dl[0]["data_base64"]).decode()
        self.assertIn("this is not json at all", str(payload))
        self.assertTrue(dl[0].get("cebdlqreason"), "cebdlqreason missing")
        self.assertRegex(b.log(), r"(?i)line[ =:\"]*2\b",
                         "the log does not name line 2:\n" + b.log_tail())


def main():
    global BUILD, SCALE, SANITIZED
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", required=True, help="the CMake build directory")
    args, rest = ap.parse_known_args()
    BUILD = os.path.abspath(args.build)
    exe = os.path.join(BUILD, "bin", "cebridge")
    if not os.path.exists(exe):
        sys.stderr.write("%s is not built\n" % exe)
        return 1
    with open(exe, "rb") as f:
        blob = f.read()
    SANITIZED = b"__asan_init" in blob or b"__ubsan_handle" in blob
    if SANITIZED:
        SCALE = 4.0
    SCALE *= float(os.environ.get("CEB_TEST_TIMEOUT_SCALE", "1"))
    prog = unittest.main(argv=[sys.argv[0]] + rest, exit=False, verbosity=2)
    return 0 if prog.result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
