"""build/bin/kafka-mock for the integration tests: one class, shared by
test_kafka.py and test_redis_kafka.py."""
import os
import signal
import subprocess


class KafkaMock:
    """Starts kafka-mock (3 brokers, the given NAME[:PARTITIONS] topics);
    its first stdout line is the bootstrap list. Stop it by PID."""

    def __init__(self, build, topics):
        args = [os.path.join(build, "bin", "kafka-mock"), "--brokers", "3"]
        for t in topics:
            args += ["--topic", t]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.brokers = self.proc.stdout.readline().decode().strip()
        if not self.brokers:
            self.stop()
            raise AssertionError("kafka-mock printed no bootstrap servers")

    def stop(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc.stdout.close()
