"""A real Mosquitto broker for tests, a test CA, and an MQTT subscriber that records what arrives.

:class:`Mosquitto` writes its own config file in a test directory and runs
``mosquitto -c FILE`` on a free loopback port (never 1883, where a system
broker may run). The test can stop it (SIGTERM), kill it (SIGKILL), start it
again on the same port, make it reload its password and ACL files (SIGHUP) and
save its persistence file (SIGUSR1). Options: password file (through
``mosquitto_passwd -b``), ACL file, TLS with certificates from :class:`TestCA`
(optionally requiring a client certificate), persistence on or off, and any
extra config lines (``max_packet_size 20000``).

Every wait polls with a generous ceiling; nothing sleeps for a fixed time.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from edge.domain import exactjson
from tests import contract

HOST = "127.0.0.1"
START_CEILING_S = 15.0
WAIT_CEILING_S = 30.0
POLL_S = 0.05

T = TypeVar("T")


def mosquitto_binary() -> str | None:
    """The broker program: on PATH, or in /usr/sbin where Debian installs it."""
    return shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin:/usr/local/sbin")


def free_port() -> int:
    """A loopback TCP port nobody listens on right now (never 1883)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind((HOST, 0))
            port = int(probe.getsockname()[1])
        if port != 1883:
            return port


def poll(
    check: Callable[[], T | None],
    what: str,
    ceiling: float = WAIT_CEILING_S,
    interval: float = POLL_S,
) -> T:
    """Call ``check`` until it returns something other than None/False; fail after ``ceiling``."""
    deadline = time.monotonic() + ceiling
    while True:
        result = check()
        if result is not None and result is not False:
            return result
        if time.monotonic() >= deadline:
            raise AssertionError(f"gave up after {ceiling:g} s waiting for {what}")
        time.sleep(interval)


# --------------------------------------------------------------------------- TLS


@dataclass(frozen=True)
class KeyPair:
    cert: Path
    key: Path


class TestCA:
    """A throw-away certificate authority made with the ``openssl`` command."""

    __test__ = False  # not a pytest test class

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.cert = directory / "ca.crt"
        self.key = directory / "ca.key"
        self._openssl(
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", self.key, "-out", self.cert, "-days", "2",
            "-subj", "/CN=Backflush Edge test CA",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        )  # fmt: skip

    def issue(self, name: str, *, server: bool) -> KeyPair:
        """A certificate signed by this CA: for the broker at 127.0.0.1/localhost, or a client."""
        key = self.directory / f"{name}.key"
        csr = self.directory / f"{name}.csr"
        cert = self.directory / f"{name}.crt"
        extensions = self.directory / f"{name}.ext"
        usage = "serverAuth" if server else "clientAuth"
        lines = ["basicConstraints=CA:FALSE", f"extendedKeyUsage={usage}"]
        if server:
            lines.append("subjectAltName=IP:127.0.0.1,DNS:localhost")
        extensions.write_text("\n".join(lines) + "\n")
        self._openssl(
            "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", key, "-out", csr, "-subj", f"/CN={name}",
        )  # fmt: skip
        self._openssl(
            "x509", "-req", "-in", csr, "-CA", self.cert, "-CAkey", self.key,
            "-CAcreateserial", "-out", cert, "-days", "2", "-extfile", extensions,
        )  # fmt: skip
        return KeyPair(cert, key)

    @staticmethod
    def _openssl(*args: str | Path) -> None:
        subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True)


# --------------------------------------------------------------------------- the broker


@dataclass(frozen=True)
class BrokerTls:
    ca: Path
    server: KeyPair
    require_certificate: bool = False


class Mosquitto:
    """One mosquitto process with its own config, on a fixed port across restarts."""

    def __init__(
        self,
        directory: Path,
        *,
        users: Mapping[str, str] | None = None,
        acl: str | None = None,
        tls: BrokerTls | None = None,
        persistence: bool = False,
        extra: Sequence[str] = (),
    ) -> None:
        binary = mosquitto_binary()
        if binary is None:
            raise RuntimeError("mosquitto is not installed")
        self.binary = binary
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.host = HOST
        self.users = dict(users or {})
        self.tls = tls
        self.persistence = persistence
        self.extra = tuple(extra)  # more config lines, e.g. "max_packet_size 20000"
        self.config_file = directory / "mosquitto.conf"
        self.log_file = directory / "mosquitto.log"
        self.password_file = directory / "passwords" if users else None
        self.acl_file = directory / "acl" if acl is not None else None
        self.persistence_file = directory / "mosquitto.db"
        self.process: subprocess.Popen[bytes] | None = None
        if self.password_file is not None:
            for number, (user, password) in enumerate(self.users.items()):
                create = ["-c"] if number == 0 else []
                subprocess.run(
                    ["mosquitto_passwd", *create, "-b", str(self.password_file), user, password],
                    check=True,
                    capture_output=True,
                )
        if acl is not None:
            self.write_acl(acl)
        self._write_config()

    def _write_config(self) -> None:
        lines = [
            f"listener {self.port} {self.host}",
            f"allow_anonymous {'false' if self.password_file else 'true'}",
            f"log_dest file {self.log_file}",
            "log_type all",
            "connection_messages true",
            "log_timestamp true",
            # Room for everything queued for an offline persistent subscriber (outage
            # tests). Not 0 ("no limit"): mosquitto 2.0.11 then closes the connection of
            # a client after each denied publish (it counts the queue as over quota).
            "max_queued_messages 1000000",
        ]
        if os.geteuid() == 0:
            lines.append("user root")  # stay root: the files live in a root-owned test directory
        if self.password_file is not None:
            lines.append(f"password_file {self.password_file}")
        if self.acl_file is not None:
            lines.append(f"acl_file {self.acl_file}")
        if self.tls is not None:
            lines += [
                f"cafile {self.tls.ca}",
                f"certfile {self.tls.server.cert}",
                f"keyfile {self.tls.server.key}",
                f"require_certificate {'true' if self.tls.require_certificate else 'false'}",
            ]
        if self.persistence:
            lines += [
                "persistence true",
                f"persistence_location {self.directory}/",
                "autosave_interval 1",
            ]
        lines += self.extra
        self.config_file.write_text("\n".join(lines) + "\n")

    def write_acl(self, text: str) -> None:
        """Replace the ACL file; :meth:`reload` makes a running broker read it."""
        if self.acl_file is None:
            raise RuntimeError("this broker was started without an ACL")
        self.acl_file.write_text(text)

    # --- process control -------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        if self.running:
            raise RuntimeError("mosquitto is already running")
        with self.log_file.open("ab") as log:
            self.process = subprocess.Popen(
                [self.binary, "-c", str(self.config_file)],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        poll(self._accepting, f"mosquitto to accept connections on port {self.port}",
             START_CEILING_S)  # fmt: skip

    def _accepting(self) -> bool:
        if self.process is None or self.process.poll() is not None:
            raise RuntimeError(f"mosquitto exited on start:\n{self.log_text()[-2000:]}")
        try:
            with socket.create_connection((self.host, self.port), timeout=0.5):
                return True
        except OSError:
            return False

    def stop(self) -> None:
        """SIGTERM: a clean shutdown (the persistence file is written)."""
        self._end(signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL: the broker vanishes; its sockets are closed by the kernel."""
        self._end(signal.SIGKILL)

    def _end(self, signum: signal.Signals) -> None:
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signum)
        try:
            process.wait(timeout=START_CEILING_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def reload(self) -> None:
        """SIGHUP: read the password and ACL files again."""
        if self.process is not None:
            self.process.send_signal(signal.SIGHUP)

    def save(self) -> None:
        """SIGUSR1: write the persistence file now; returns once it has been written."""
        before = self.persistence_file.stat().st_mtime_ns if self.persistence_file.exists() else 0
        marker = self.log_text().count("Saving in-memory database")
        if self.process is not None:
            self.process.send_signal(signal.SIGUSR1)
        poll(
            lambda: (
                self.log_text().count("Saving in-memory database") > marker
                and self.persistence_file.exists()
                and self.persistence_file.stat().st_mtime_ns >= before
            ),
            "mosquitto to save its persistence file",
        )

    # --- reading the log -------------------------------------------------------------
    def log_text(self) -> str:
        try:
            return self.log_file.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_count(self, text: str) -> int:
        return self.log_text().count(text)


# --------------------------------------------------------------------------- a subscriber


@dataclass(frozen=True)
class Received:
    topic: str
    payload: bytes
    retain: bool
    at: float  # monotonic time of arrival

    def json(self) -> Any:
        return exactjson.loads(self.payload)


@dataclass(frozen=True)
class ClientTls:
    ca: Path
    client: KeyPair | None = None


class Subscriber:
    """A paho client that subscribes to one filter and records every message.

    ``persistent``: an MQTT 5 session that outlives the connection (clean start
    off, one hour expiry), so a broker with persistence queues messages for it
    while it is away. The client reconnects by itself and subscribes again.
    """

    def __init__(
        self,
        broker: Mosquitto,
        topic_filter: str,
        *,
        client_id: str = "test-subscriber",
        persistent: bool = False,
        username: str | None = None,
        password: str | None = None,
        tls: ClientTls | None = None,
    ) -> None:
        self.broker = broker
        self.topic_filter = topic_filter
        self.persistent = persistent
        self._lock = threading.Lock()
        self._messages: list[Received] = []
        self._events: list[dict[str, Any]] = []  # event payloads, parsed once on arrival
        self._seqs: set[int] = set()
        self._subscribed = threading.Event()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, protocol=MQTTProtocolVersion.MQTTv5
        )
        self.client.reconnect_delay_set(1, 2)
        if username is not None:
            self.client.username_pw_set(username, password)
        if tls is not None:
            self.client.tls_set(
                ca_certs=str(tls.ca),
                certfile=str(tls.client.cert) if tls.client else None,
                keyfile=str(tls.client.key) if tls.client else None,
                cert_reqs=ssl.CERT_REQUIRED,
            )
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message

    def _on_connect(
        self, client: mqtt.Client, _u: object, _f: object, reason: Any, _p: object
    ) -> None:
        if not reason.is_failure:
            client.subscribe(self.topic_filter, qos=1)

    def _on_subscribe(self, _c: object, _u: object, _mid: int, _codes: object, _p: object) -> None:
        self._subscribed.set()

    def _on_message(self, _c: object, _u: object, message: mqtt.MQTTMessage) -> None:
        received = Received(message.topic, bytes(message.payload), bool(message.retain),
                            time.monotonic())  # fmt: skip
        contract.record(received.topic, received.payload)
        event = received.json() if "/event/" in received.topic else None
        with self._lock:
            self._messages.append(received)
            if event is not None:
                self._events.append(event)
                self._seqs.add(event["seq"])

    def start(self) -> Subscriber:
        properties = None
        if self.persistent:
            properties = Properties(PacketTypes.CONNECT)
            properties.SessionExpiryInterval = 3600
        self.client.connect(
            self.broker.host,
            self.broker.port,
            keepalive=10,
            clean_start=not self.persistent,
            properties=properties,
        )
        self.client.loop_start()
        poll(self._subscribed.is_set, f"the subscription to {self.topic_filter}")
        return self

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    # --- what arrived ----------------------------------------------------------------
    @property
    def messages(self) -> list[Received]:
        with self._lock:
            return list(self._messages)

    def on(self, topic: str) -> list[Received]:
        return [message for message in self.messages if message.topic == topic]

    def events(self) -> list[dict[str, Any]]:
        """Every event payload received (duplicates included), in arrival order."""
        with self._lock:
            return list(self._events)

    def seqs(self) -> set[int]:
        """The seq of every event received."""
        with self._lock:
            return set(self._seqs)

    def wait_for(self, check: Callable[[list[Received]], T | None], what: str,
                 ceiling: float = WAIT_CEILING_S) -> T:  # fmt: skip
        return poll(lambda: check(self.messages), what, ceiling)

    def wait_for_seqs(self, last: int, ceiling: float = WAIT_CEILING_S) -> list[dict[str, Any]]:
        """Wait until every event seq 1..last has arrived; returns all event payloads."""
        wanted = set(range(1, last + 1))

        def complete() -> list[dict[str, Any]] | None:
            with self._lock:
                return list(self._events) if wanted <= self._seqs else None

        return poll(complete, f"events 1..{last}", ceiling)

    def last_json(self, topic: str) -> Any:
        on_topic = self.on(topic)
        return on_topic[-1].json() if on_topic else None


@contextlib.contextmanager
def subscribed(broker: Mosquitto, topic_filter: str, **options: Any) -> Iterator[Subscriber]:
    subscriber = Subscriber(broker, topic_filter, **options).start()
    try:
        yield subscriber
    finally:
        subscriber.close()


# --------------------------------------------------------------------------- a central system


class Erp:
    """A central system sending commands: MQTT 5, QoS 1, each with a Response Topic and
    its own Correlation Data; answers are collected by correlation."""

    def __init__(
        self,
        broker: Mosquitto,
        *,
        client_id: str = "test-erp",
        response_topic: str = "erp/answers",
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        self.broker = broker
        self.response_topic = response_topic
        self._lock = threading.Lock()
        self._answers: dict[bytes, list[Any]] = {}
        self._subscribed = threading.Event()
        self._sent = 0
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, protocol=MQTTProtocolVersion.MQTTv5
        )
        self.client.reconnect_delay_set(1, 2)
        if username is not None:
            self.client.username_pw_set(username, password)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda *_args: self._subscribed.set()
        self.client.on_disconnect = lambda *_args: self._subscribed.clear()
        self.client.on_message = self._on_message

    def _on_connect(
        self, client: mqtt.Client, _u: object, _f: object, reason: Any, _p: object
    ) -> None:
        if not reason.is_failure:
            client.subscribe(self.response_topic, qos=1)

    def _on_message(self, _c: object, _u: object, message: mqtt.MQTTMessage) -> None:
        correlation = getattr(message.properties, "CorrelationData", None) or b""
        with self._lock:
            self._answers.setdefault(bytes(correlation), []).append(
                exactjson.loads(message.payload)
            )

    def start(self) -> Erp:
        self.client.connect(self.broker.host, self.broker.port, keepalive=10)
        self.client.loop_start()
        poll(self._subscribed.is_set, "the ERP's subscription to its answers")
        return self

    def wait_subscribed(self) -> None:
        """Until the ERP is (again, after a broker restart) subscribed to its answers."""
        poll(self._subscribed.is_set, "the ERP's subscription to its answers")

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def send(self, topic: str, command: Mapping[str, Any] | bytes, *, retain: bool = False,
             answer: bool = True) -> bytes:  # fmt: skip
        """Publish one command (a dict as JSON, bytes as they are); its correlation data."""
        with self._lock:
            self._sent += 1
            correlation = f"corr-{self._sent}".encode()
        properties = Properties(PacketTypes.PUBLISH)
        if answer:
            properties.ResponseTopic = self.response_topic
            properties.CorrelationData = correlation
        payload = command if isinstance(command, bytes) else exactjson.dumps(command).encode()
        info = self.client.publish(topic, payload, qos=1, retain=retain, properties=properties)
        info.wait_for_publish(WAIT_CEILING_S)
        return correlation

    def answers(self, correlation: bytes) -> list[Any]:
        with self._lock:
            return list(self._answers.get(correlation, []))

    def answer(self, correlation: bytes, ceiling: float = WAIT_CEILING_S) -> Any:
        """The (first) answer to the command sent with ``correlation``."""
        found = poll(lambda: self.answers(correlation) or None, "the answer to a command", ceiling)
        return found[0]
