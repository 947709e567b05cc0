#!/usr/bin/env python3
"""bench_kafka: the Kafka paths of cebridge next to the raw librdkafka rates
against the same mock cluster in the same run (issue 6, DESIGN §8).

    python3 tools/bench.d/bench_kafka.py [--build DIR] [-n EVENTS] [--partitions P]

Cases (events/s, wall clock):
  raw produce      kcat -P (librdkafka producer) of N small records
  raw consume      kcat -C -e of the same N records (librdkafka consumer)
  kafka -> file    cebridge: kafka source (consumer group) -> file sink,
                   from the first event written to the last (the ~3 s group
                   join of the mock cluster is excluded, and reported)

The ratio column is cebridge / raw consume. Target (issue 6): >= 70 % of the
raw rate and >= 200,000 events/s. The mock keeps ~5 MiB per partition, so N
is spread over --partitions partitions (default 8) with ~60-byte records.
A separate file so as not to edit tools/bench (owned elsewhere); its
`kafka` subcommand can call this script. Python 3 standard library only.
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

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def count_lines(path):
    try:
        with open(path, "rb") as f:
            return f.read().count(b"\n")
    except FileNotFoundError:
        return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("-n", type=int, default=200000)
    ap.add_argument("--partitions", type=int, default=8)
    a = ap.parse_args()
    build = os.path.abspath(a.build)
    if shutil.which("kcat") is None:
        sys.exit("bench_kafka: kcat is not installed")
    tmp = tempfile.mkdtemp(prefix="ceb_bench_kafka_", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    mock = subprocess.Popen([os.path.join(build, "bin", "kafka-mock"), "--topic",
                             "bench:%d" % a.partitions], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL)
    bridge = None
    try:
        brokers = mock.stdout.readline().decode().strip()
        data = os.path.join(tmp, "in.txt")
        with open(data, "w") as f:
            for i in range(a.n):
                f.write("k%d:{\"seq\":%d,\"pad\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}\n" % (i % 1000, i))
        t0 = time.perf_counter()
        subprocess.run(["kcat", "-P", "-b", brokers, "-t", "bench", "-K:", "-l", data],
                       check=True, stderr=subprocess.DEVNULL)
        raw_p = a.n / (time.perf_counter() - t0)
        t0 = time.perf_counter()
        out = subprocess.run(["kcat", "-C", "-b", brokers, "-t", "bench", "-e", "-q",
                              "-o", "beginning", "-f", "%s\n"], check=True,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        raw_c = a.n / (time.perf_counter() - t0)
        got = out.stdout.count(b"\n")
        if got != a.n:
            print("warning: raw consumer read %d of %d records (mock retention?)" % (got, a.n))

        conf = os.path.join(tmp, "conf.json")
        sink = os.path.join(tmp, "out.jsonl")
        with open(conf, "w") as f:
            json.dump({"sources": {"k": {"plugin": "kafka", "brokers": brokers,
                                         "topics": ["bench"], "group": "bench"}},
                       "sinks": {"f": dict({"plugin": "file", "path": sink}, **(
                           {"max_inflight": int(os.environ["BENCH_MAX_INFLIGHT"])}
                           if os.environ.get("BENCH_MAX_INFLIGHT") else {}))},
                       "routes": {"r": {"from": "k", "to": "f"}}}, f)
        t_start = time.perf_counter()
        bridge = subprocess.Popen([os.path.join(build, "bin", "cebridge"), "-c", conf,
                                   "--log-level", "warn"], stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 300
        while count_lines(sink) == 0:
            if time.monotonic() > deadline or bridge.poll() is not None:
                sys.exit("bench_kafka: cebridge wrote nothing")
            time.sleep(0.01)
        t_first = time.perf_counter()
        while count_lines(sink) < a.n:
            if time.monotonic() > deadline or bridge.poll() is not None:
                sys.exit("bench_kafka: cebridge wrote %d of %d" % (count_lines(sink), a.n))
            time.sleep(0.02)
        t_last = time.perf_counter()
        ceb = a.n / (t_last - t_first)
        print("%-34s %12s %8s" % ("case (%d events)" % a.n, "events/s", "ratio"))
        print("%-34s %12.0f %8s" % ("raw librdkafka produce (kcat -P)", raw_p, ""))
        print("%-34s %12.0f %8s" % ("raw librdkafka consume (kcat -C)", raw_c, "1.00"))
        print("%-34s %12.0f %8.2f" % ("cebridge kafka -> file", ceb, ceb / raw_c))
        print("(group join before the first event: %.1f s, excluded)" % (t_first - t_start))
    finally:
        if bridge is not None and bridge.poll() is None:
            os.kill(bridge.pid, signal.SIGTERM)
            bridge.wait(60)
        os.kill(mock.pid, signal.SIGTERM)
        mock.wait(30)
        mock.stdout.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
