"""Helpers shared by the Python integration tests (test_kafka.py,
test_redis.py, test_redis_kafka.py): deadlines, log tails, free ports and
a throw-away redis-server on an ephemeral loopback port."""
import os
import signal
import socket
import subprocess
import time

# Deadlines are multiplied by this; a test's main() sets 4.0 under sanitizers.
SCALE = 1.0


def tail(path, n=40):
    """The last n lines of a log file ("" when there is none)."""
    if path is None:
        return ""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except FileNotFoundError:
        return ""


def wait_until(cond, timeout, what, proc=None, log=None):
    """Poll cond() until it is truthy (returned), proc exits, or timeout*SCALE
    seconds pass; the failure names `what` and quotes the log's tail."""
    deadline = time.monotonic() + timeout * SCALE
    while True:
        v = cond()
        if v:
            return v
        if proc is not None and proc.poll() is not None:
            v = cond()
            if v:
                return v
            raise AssertionError("cebridge exited (status %s) while waiting for %s; log:\n%s"
                                 % (proc.returncode, what, tail(log)))
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.0fs waiting for %s; log:\n%s"
                                 % (timeout * SCALE, what, tail(log)))
        time.sleep(0.05)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class RedisServer:
    """redis-server on 127.0.0.1 without persistence; stopped by its PID."""

    def __init__(self, port=None):
        self.port = port or free_port()
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind",
                                      "127.0.0.1", "--save", "", "--appendonly", "no"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(lambda: self.cli("PING", check=False) == "PONG", 10, "redis PING")
        return self

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            self.proc.wait()
        self.proc = None

    @property
    def url(self):
        return "redis://127.0.0.1:%d" % self.port

    def cli(self, *args, check=True, stdin=None):
        p = subprocess.run(["redis-cli", "-p", str(self.port)] + [str(a) for a in args],
                           input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out = p.stdout.decode("utf-8", "replace").strip()
        if check and p.returncode != 0:
            raise AssertionError("redis-cli %s: %s" % (args, p.stderr))
        return out

    def pipe(self, commands):
        """Send many commands at once (redis-cli --pipe with RESP)."""
        buf = bytearray()
        for c in commands:
            buf += b"*%d\r\n" % len(c)
            for a in c:
                a = a if isinstance(a, bytes) else str(a).encode()
                buf += b"$%d\r\n%s\r\n" % (len(a), a)
        p = subprocess.run(["redis-cli", "-p", str(self.port), "--pipe"], input=bytes(buf),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if p.returncode != 0:
            raise AssertionError("redis-cli --pipe failed: %s" % p.stdout[-500:])

    def pending(self, stream, group):
        """XPENDING's count, -1 while the group does not exist."""
        out = self.cli("XPENDING", stream, group, check=False).splitlines()
        try:
            return int(out[0])
        except (IndexError, ValueError):
            return -1
