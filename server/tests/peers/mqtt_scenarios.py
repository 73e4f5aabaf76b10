"""MQTT scenarios driven by PyPI's paho-mqtt (2.x), run against any broker, so the lab's broker can be compared packet
by packet with Mosquitto's (server/tests/mqtt_peers.rs runs it against both and diffs the output).

    mqtt_scenarios.py --host H --port P [--transport tcp|websockets] [--ws-path /mqtt] [--protocol 5|311] SCENARIO...

SCENARIO is one of qos0 qos1 qos2 retained will session resend bad_input, or `all`. For each scenario one JSON line:

    {"scenario": "qos2", "packets": ["pub > CONNECT u0 p0 wr0 wq0 wf0 c1 k60", "pub < CONNACK sp0 Success", ...],
     "ok": true, "detail": ...}

`packets` is every control packet each client sent (>) and received (<), read from paho's own log lines ("Sending
PUBREC (Mid: 3)") and prefixed by the client's role. Roles are listed one after another in a fixed order, each with
its packets in the order that client saw them: the interleaving between clients depends on timing, one client's
order does not. Normalized away, because brokers may legitimately differ in them: client ids, the unique topic prefix
of the run (shown as T), CONNACK properties (receive maximum, topic alias maximum...), PINGREQ/PINGRESP, and the
absolute message ids: a QoS>0 PUBLISH or a SUBSCRIBE starts a flow named c1, c2... (ids the client picked) or b1,
b2... (ids the broker picked), in the order they start, and every acknowledgement names the flow whose id it carries.
With MQTT 5 a SUBACK shows its reason codes and a PUBACK/PUBCOMP its reason code (rc=...).

`ok` says whether every client's sequence is the one the specification asks for (and the payloads and their order
are right); `detail` says why not, or what was received. The bad_input scenario uses raw sockets instead of paho:
each hostile case on its own connection, and what came back (packet type + reason code, then "closed").
Every wait has a deadline: a broker that does not answer makes a scenario fail with a message, never hang.
Exit status 0 when every scenario is ok.
"""

import argparse
import base64
import json
import os
import re
import signal
import socket
import struct
import sys
import threading
import time
import uuid

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

WAIT = 10.0  # the longest any one expected packet may take
SETTLE = 0.3  # after the last expected packet: time for an unexpected extra one (a duplicate) to show up
QUIET = 1.0  # how long "nothing arrives" is watched for
SCENARIO_LIMIT = 90  # a last resort: a scenario stuck anywhere else fails after this many seconds
RAW_CLOSE_WAIT = 5.0  # how long a raw connection is watched for the broker to close it


class Failure(Exception):
    pass


class Recorder:
    """Normalized packets per role, filled from paho's log callbacks (the clients' network threads)."""

    def __init__(self, prefix, v5):
        self.prefix = prefix
        self.v5 = v5
        self.cond = threading.Condition()
        self.roles = []  # in the order they first appear
        self.packets = {}  # role -> [normalized packet]
        self.flows = {}  # role -> {"c": {raw mid: label}, "b": {...}, "next_c": n, "next_b": n}
        self.messages = {}  # role -> [(topic, payload, retain)]

    def role(self, role):
        with self.cond:
            if role not in self.packets:
                self.roles.append(role)
                self.packets[role] = []
                self.messages[role] = []
                self.flows[role] = {"c": {}, "b": {}, "next_c": 1, "next_b": 1}

    def add(self, role, text):
        with self.cond:
            self.packets[role].append(text)
            self.cond.notify_all()

    def topic(self, topic):
        return "T" + topic[len(self.prefix) :] if topic.startswith(self.prefix) else topic

    def _start(self, role, space, mid):
        flows = self.flows[role]
        label = f"{space}{flows['next_' + space]}"
        flows["next_" + space] += 1
        flows[space][mid] = label
        return label

    def _flow(self, role, space, mid):
        return self.flows[role][space].get(mid, f"{space}?{mid}")

    def log(self, role, line):
        """paho's log line -> one normalized packet, or nothing (lines that are not packets, and pings)."""
        m = re.match(r"Sending CONNECT \((u\d), (p\d), (wr\d), (wq\d), (wf\d), (c\d), (k\d+)\)", line)
        if m:
            return self.add(role, "> CONNECT " + " ".join(m.groups()))
        m = re.match(r"Received CONNACK \((\d+), ([^)]*)\)", line)
        if m:
            return self.add(role, f"< CONNACK sp{int(m.group(1)) & 1} {m.group(2)}")
        m = re.match(r"Sending SUBSCRIBE \(d(\d), m(\d+)\) (.*)", line)
        if m:
            filters = re.findall(r"\(b'([^']*)', (?:\{QoS=)?(\d)", m.group(3))
            label = self._start(role, "c", int(m.group(2)))
            shown = " ".join(f"{self.topic(t)} q{q}" for t, q in filters)
            return self.add(role, f"> SUBSCRIBE {label} {shown}")
        if line == "Received SUBACK":
            return self.add(role, "< SUBACK")  # completed by on_subscribe, which paho calls next
        m = re.match(r"(Sending|Received) PUBLISH \(d(\d), q(\d), r(\d), m(\d+)\), '(?:b')?([^']*)'?'(.*)$", line)
        if m:
            sending, dup, qos, retain, mid, topic, rest = m.groups()
            size = re.search(r"\((\d+) bytes\)", rest)
            props = re.search(r"properties=(\[.*\])", rest)
            text = f"{'>' if sending == 'Sending' else '<'} PUBLISH q{qos} {self.topic(topic)} r{retain} d{dup}"
            if qos != "0":
                space = "c" if sending == "Sending" else "b"
                known = self.flows[role][space].get(int(mid))
                # A resend (DUP=1) carries the id of a flow already started; anything else starts a new flow.
                label = known if dup == "1" and known else self._start(role, space, int(mid))
                text += f" {label}"
            text += f" {size.group(1) if size else 0}B"
            if props and props.group(1) != "[]":
                text += f" {props.group(1)}"
            return self.add(role, text)
        m = re.match(r"(Sending|Received) (PUBACK|PUBREC|PUBREL|PUBCOMP) \(Mid: (\d+)\)", line)
        if m:
            sending, kind, mid = m.group(1) == "Sending", m.group(2), int(m.group(3))
            # Whose id: PUBREL travels with the publisher's id; PUBACK, PUBREC and PUBCOMP answer the other side's.
            ours = (kind == "PUBREL") == sending
            return self.add(role, f"{'>' if sending else '<'} {kind} {self._flow(role, 'c' if ours else 'b', mid)}")
        if line.startswith("Sending DISCONNECT"):
            return self.add(role, "> DISCONNECT")
        m = re.match(r"Received DISCONNECT (\S+)", line)
        if m:
            return self.add(role, f"< DISCONNECT {m.group(1)}")
        return None

    def on_subscribe(self, role, mid, codes):
        with self.cond:
            packets = self.packets[role]
            for i in range(len(packets) - 1, -1, -1):
                if packets[i] == "< SUBACK":
                    shown = ",".join(str(c.value) for c in codes)
                    packets[i] = f"< SUBACK {self._flow(role, 'c', mid)} [{shown}]"
                    break
            self.cond.notify_all()

    def on_publish(self, role, mid, reason):
        """MQTT 5 only: the reason code of the PUBACK/PUBCOMP just logged (e.g. 'No matching subscribers')."""
        if not self.v5:
            return
        with self.cond:
            label = self._flow(role, "c", mid)
            packets = self.packets[role]
            for i in range(len(packets) - 1, -1, -1):
                if packets[i] in (f"< PUBACK {label}", f"< PUBCOMP {label}"):
                    packets[i] += f" rc={reason}"
                    break

    def on_message(self, role, message):
        with self.cond:
            self.messages[role].append((self.topic(message.topic), message.payload.decode(errors="replace"), message.retain))
            self.cond.notify_all()

    def count(self, role, start):
        return sum(1 for p in self.packets.get(role, []) if p.startswith(start))

    def wait(self, role, start, n=1, what=None):
        """Waits until `role` has at least `n` packets starting with `start`; Failure after WAIT seconds."""
        deadline = time.monotonic() + WAIT
        with self.cond:
            while self.count(role, start) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise Failure(
                        f"{what or role}: waited {WAIT:.0f}s for {n} x '{role} {start}', "
                        f"got {self.packets.get(role)}"
                    )
                self.cond.wait(left)

    def all_packets(self):
        with self.cond:
            return [f"{role} {p}" for role in self.roles for p in self.packets[role]]

    def of(self, role):
        with self.cond:
            return list(self.packets[role])


class Peer:
    """One paho client in a role; its packets go to the recorder."""

    def __init__(self, run, role, client_id=None, clean=True, will=None, session_expiry=None):
        self.run, self.role, self.rec = run, role, run.rec
        self.clean, self.session_expiry = clean, session_expiry
        self.client_id = client_id or f"{run.prefix}-{role}".replace("/", "-").replace("+", "plus").replace("#", "hash")
        self.rec.role(role)
        kwargs = {} if run.v5 else {"clean_session": clean}
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            protocol=mqtt.MQTTv5 if run.v5 else mqtt.MQTTv311,
            transport=run.args.transport,
            **kwargs,
        )
        if run.args.transport == "websockets":
            self.client.ws_set_options(path=run.args.ws_path)
        if will:
            topic, payload, qos = will
            self.client.will_set(topic, payload, qos=qos, retain=False)
        self.client.on_log = lambda _c, _u, _level, line: self.rec.log(role, line)
        self.client.on_subscribe = lambda _c, _u, mid, codes, _p: self.rec.on_subscribe(role, mid, codes)
        self.client.on_publish = lambda _c, _u, mid, reason, _p: self.rec.on_publish(role, mid, reason)
        self.client.on_message = lambda _c, _u, message: self.rec.on_message(role, message)
        self.disconnected = threading.Event()
        self.client.on_disconnect = lambda *_: self.disconnected.set()
        self.running = False
        run.peers.append(self)

    def connect(self):
        kwargs = {}
        if self.run.v5:
            kwargs["clean_start"] = self.clean
            if self.session_expiry is not None:
                properties = Properties(PacketTypes.CONNECT)
                properties.SessionExpiryInterval = self.session_expiry
                kwargs["properties"] = properties
        before = self.rec.count(self.role, "< CONNACK")
        self.disconnected.clear()
        try:
            self.client.connect(self.run.args.host, self.run.args.port, keepalive=60, **kwargs)
        except OSError as error:
            raise Failure(f"{self.role}: cannot connect to {self.run.args.host}:{self.run.args.port}: {error}")
        self.client.loop_start()
        self.running = True
        self.rec.wait(self.role, "< CONNACK", before + 1, f"{self.role} connecting")
        return self

    def subscribe(self, topic, qos):
        before = self.rec.count(self.role, "< SUBACK")
        self.client.subscribe(topic, qos=qos)
        self.rec.wait(self.role, "< SUBACK", before + 1, f"{self.role} subscribing to {topic}")

    def publish(self, topic, payload, qos, retain=False):
        """Publishes and waits for the flow to complete (PUBACK, or PUBCOMP), so every client's order is fixed."""
        done = {0: "> PUBLISH", 1: "< PUBACK", 2: "< PUBCOMP"}[qos]
        before = self.rec.count(self.role, done)
        self.client.publish(topic, payload, qos=qos, retain=retain)
        self.rec.wait(self.role, done, before + 1, f"{self.role} publishing at QoS {qos}")

    def disconnect(self):
        self.client.disconnect()
        if not self.disconnected.wait(WAIT):
            raise Failure(f"{self.role}: no disconnect within {WAIT:.0f}s")
        self.client.loop_stop()
        self.running = False

    def kill(self):
        """Closes the connection without DISCONNECT, as a crashed client would: the broker must send the will."""
        self.client.loop_stop()
        self.running = False
        sock = self.client._sock
        sock = getattr(sock, "_socket", sock)  # paho's WebSocket wrapper holds the TCP socket
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        sock.close()

    def stop(self):
        if self.running:
            self.client.loop_stop()
            self.running = False
        sock = self.client._sock
        if sock is not None:
            try:
                sock.close()
            except OSError:
                pass


class Run:
    def __init__(self, args, name):
        self.args = args
        self.v5 = args.protocol == "5"
        # Unique per run and scenario, so runs against one broker never see each other's messages or sessions.
        self.prefix = f"peers/{name}-{uuid.uuid4().hex[:10]}"
        self.rec = Recorder(self.prefix, self.v5)
        self.peers = []

    def t(self, suffix):
        return f"{self.prefix}/{suffix}"

    def peer(self, role, **kwargs):
        return Peer(self, role, **kwargs)

    def settle(self, seconds=SETTLE):
        time.sleep(seconds)

    def close(self):
        for peer in self.peers:
            peer.stop()

    # The sequences the specification asks for, in the recorder's notation.
    def connect_seq(self, clean=True, will_qos=None, session_present=False):
        flags = f"u0 p0 wr0 wq{will_qos or 0} wf{1 if will_qos is not None else 0} c{1 if clean else 0} k60"
        return [f"> CONNECT {flags}", f"< CONNACK sp{1 if session_present else 0} {'Success' if self.v5 else '0'}"]

    def rc(self, reason="Success"):
        return f" rc={reason}" if self.v5 else ""

    def check(self, expected, checks=()):
        """ok when every role's packets are the expected ones and every (condition, message) holds."""
        problems = []
        for role, want in expected.items():
            got = self.rec.of(role)
            if got != want:
                problems.append({"role": role, "expected": want, "got": got})
        problems += [message for condition, message in checks if not condition]
        return problems


def delivery(qos, label, topic, size, retain=0, dup=0):
    """A subscriber's side of one delivery: the PUBLISH it receives and what it answers."""
    head = f"< PUBLISH q{qos} {topic} r{retain} d{dup}" + (f" {label}" if qos else "") + f" {size}B"
    return [head] + {0: [], 1: [f"> PUBACK {label}"], 2: [f"> PUBREC {label}", f"< PUBREL {label}", f"> PUBCOMP {label}"]}[qos]


def scenario_qos(run, qos):
    """One publisher at `qos`; subscribers at QoS 2 on a `+` filter and a `#` filter each get it once, at `qos`."""
    plus, hash_ = run.peer("sub+").connect(), run.peer("sub#").connect()
    plus.subscribe(run.t("q/+"), 2)
    hash_.subscribe(run.t("#"), 2)
    pub = run.peer("pub").connect()
    payload = f"qos{qos} hello"
    pub.publish(run.t("q/x"), payload, qos)
    done = {0: "< PUBLISH", 1: "> PUBACK", 2: "> PUBCOMP"}[qos]
    for sub in (plus, hash_):
        run.rec.wait(sub.role, done, 1, f"{sub.role} receiving the QoS {qos} message")
    run.settle()
    for peer in (plus, hash_, pub):
        peer.disconnect()
    size = len(payload)
    sent = [f"> PUBLISH q{qos} T/q/x r0 d0" + (" c1" if qos else "") + f" {size}B"]
    sent += {0: [], 1: [f"< PUBACK c1{run.rc()}"], 2: ["< PUBREC c1", "> PUBREL c1", f"< PUBCOMP c1{run.rc()}"]}[qos]
    expected = {
        "sub+": run.connect_seq() + ["> SUBSCRIBE c1 T/q/+ q2", "< SUBACK c1 [2]"]
        + delivery(qos, "b1", "T/q/x", size) + ["> DISCONNECT"],
        "sub#": run.connect_seq() + ["> SUBSCRIBE c1 T/# q2", "< SUBACK c1 [2]"]
        + delivery(qos, "b1", "T/q/x", size) + ["> DISCONNECT"],
        "pub": run.connect_seq() + sent + ["> DISCONNECT"],
    }
    messages = run.rec.messages
    return run.check(expected, [
        (messages["sub+"] == messages["sub#"] == [("T/q/x", payload, 0)], f"messages: {messages}"),
    ])


def scenario_retained(run):
    """Retained: a new subscriber gets it (RETAIN=1) after its SUBACK; live copies carry RETAIN=0; an empty payload
    deletes it, so a subscriber after that gets nothing."""
    topic = run.t("r")
    pub = run.peer("pub").connect()
    pub.publish(topic, "v1", 1, retain=True)
    first = run.peer("sub1").connect()
    first.subscribe(topic, 1)
    run.rec.wait("sub1", "> PUBACK", 1, "sub1 receiving the retained v1")
    pub.publish(topic, "v2!", 1, retain=True)  # replaces it; sub1 gets it live
    run.rec.wait("sub1", "> PUBACK", 2, "sub1 receiving v2 live")
    second = run.peer("sub2").connect()
    second.subscribe(topic, 1)
    run.rec.wait("sub2", "> PUBACK", 1, "sub2 receiving the retained v2")
    second.disconnect()
    pub.publish(topic, "", 1, retain=True)  # deletes it; sub1 gets the empty message live
    run.rec.wait("sub1", "> PUBACK", 3, "sub1 receiving the empty message live")
    third = run.peer("sub3").connect()
    third.subscribe(topic, 1)
    run.settle(QUIET)
    for peer in (first, third, pub):
        peer.disconnect()
    no_subscribers = "No matching subscribers"
    expected = {
        "pub": run.connect_seq()
        + ["> PUBLISH q1 T/r r1 d0 c1 2B", f"< PUBACK c1{run.rc(no_subscribers)}"]
        + ["> PUBLISH q1 T/r r1 d0 c2 3B", f"< PUBACK c2{run.rc()}"]
        + ["> PUBLISH q1 T/r r1 d0 c3 0B", f"< PUBACK c3{run.rc()}"]
        + ["> DISCONNECT"],
        "sub1": run.connect_seq() + ["> SUBSCRIBE c1 T/r q1", "< SUBACK c1 [1]"]
        + delivery(1, "b1", "T/r", 2, retain=1) + delivery(1, "b2", "T/r", 3) + delivery(1, "b3", "T/r", 0)
        + ["> DISCONNECT"],
        "sub2": run.connect_seq() + ["> SUBSCRIBE c1 T/r q1", "< SUBACK c1 [1]"]
        + delivery(1, "b1", "T/r", 3, retain=1) + ["> DISCONNECT"],
        "sub3": run.connect_seq() + ["> SUBSCRIBE c1 T/r q1", "< SUBACK c1 [1]", "> DISCONNECT"],
    }
    messages = run.rec.messages
    return run.check(expected, [
        (messages["sub1"] == [("T/r", "v1", 1), ("T/r", "v2!", 0), ("T/r", "", 0)], f"sub1 got {messages['sub1']}"),
        (messages["sub2"] == [("T/r", "v2!", 1)], f"sub2 got {messages['sub2']}"),
        (messages["sub3"] == [], f"sub3 got {messages['sub3']}"),
    ])


def scenario_will(run):
    """A client that disconnects normally leaves no will; one whose connection just closes does (QoS 1, not retained)."""
    sub = run.peer("sub").connect()
    sub.subscribe(run.t("will/+"), 1)
    polite = run.peer("c", will=(run.t("will/c"), "c is gone", 1)).connect()
    polite.disconnect()
    run.settle(QUIET)
    crashing = run.peer("a", will=(run.t("will/a"), "a is gone", 1)).connect()
    crashing.kill()
    run.rec.wait("sub", "> PUBACK", 1, "sub receiving a's will")
    run.settle()
    sub.disconnect()
    expected = {
        "sub": run.connect_seq() + ["> SUBSCRIBE c1 T/will/+ q1", "< SUBACK c1 [1]"]
        + delivery(1, "b1", "T/will/a", len("a is gone")) + ["> DISCONNECT"],
        "c": run.connect_seq(will_qos=1) + ["> DISCONNECT"],
        "a": run.connect_seq(will_qos=1),
    }
    return run.check(expected, [(run.rec.messages["sub"] == [("T/will/a", "a is gone", 0)], f"sub got {run.rec.messages['sub']}")])


def scenario_session(run):
    """A subscriber with a session that outlives its connection gets, on reconnecting, session present = 1 and the
    three QoS 1 messages published while it was away, in order."""
    topic = run.t("s")
    client_id = f"{run.prefix}-sub".replace("/", "-")
    expiry = 300 if run.v5 else None
    sub = run.peer("sub", client_id=client_id, clean=False, session_expiry=expiry).connect()
    sub.subscribe(topic, 1)
    sub.disconnect()
    pub = run.peer("pub").connect()
    for n in range(1, 4):
        pub.publish(topic, f"m{n}", 1)
    pub.disconnect()
    # A new paho client with the same id: paho's own state is empty, the broker's session is not.
    back = Peer(run, "sub", client_id=client_id, clean=False, session_expiry=expiry).connect()
    run.rec.wait("sub", "> PUBACK", 3, "sub receiving the 3 queued messages")
    run.settle()
    back.disconnect()
    expected = {
        "sub": run.connect_seq(clean=False) + ["> SUBSCRIBE c1 T/s q1", "< SUBACK c1 [1]", "> DISCONNECT"]
        + run.connect_seq(clean=False, session_present=True)
        + delivery(1, "b1", "T/s", 2) + delivery(1, "b2", "T/s", 2) + delivery(1, "b3", "T/s", 2)
        + ["> DISCONNECT"],
        "pub": run.connect_seq()
        + [p for n in (1, 2, 3) for p in (f"> PUBLISH q1 T/s r0 d0 c{n} 2B", f"< PUBACK c{n}{run.rc()}")]
        + ["> DISCONNECT"],
    }
    got = [payload for _topic, payload, _retain in run.rec.messages["sub"]]
    return run.check(expected, [(got == ["m1", "m2", "m3"], f"sub got {got}")])


def scenario_resend(run):
    """A QoS 1 message delivered but never acknowledged is sent again when the session's client comes back, with the
    same message id and DUP=1, right after the CONNACK (session present = 1)."""
    topic = run.t("d")
    client_id = f"{run.prefix}-sub".replace("/", "-")
    expiry = 300 if run.v5 else None
    sub = run.peer("sub", client_id=client_id, clean=False, session_expiry=expiry)
    sub.client.manual_ack_set(True)  # paho then sends no PUBACK until told to: this client never tells it
    sub.connect()
    sub.subscribe(topic, 1)
    pub = run.peer("pub").connect()
    pub.publish(topic, "once", 1)
    run.rec.wait("sub", "< PUBLISH", 1, "sub receiving the message it will not acknowledge")
    sub.kill()
    pub.disconnect()
    back = Peer(run, "sub", client_id=client_id, clean=False, session_expiry=expiry).connect()
    run.rec.wait("sub", "> PUBACK", 1, "sub receiving the message again")
    run.settle()
    back.disconnect()
    expected = {
        "sub": run.connect_seq(clean=False) + ["> SUBSCRIBE c1 T/d q1", "< SUBACK c1 [1]", "< PUBLISH q1 T/d r0 d0 b1 4B"]
        + run.connect_seq(clean=False, session_present=True) + delivery(1, "b1", "T/d", 4, dup=1) + ["> DISCONNECT"],
        "pub": run.connect_seq() + ["> PUBLISH q1 T/d r0 d0 c1 4B", f"< PUBACK c1{run.rc()}", "> DISCONNECT"],
    }
    got = [payload for _topic, payload, _retain in run.rec.messages["sub"]]
    return run.check(expected, [(got == ["once", "once"], f"sub got {got}")])


# --- bad input, on raw sockets -------------------------------------------------------------------------------------

PACKET_NAMES = {1: "CONNECT", 2: "CONNACK", 3: "PUBLISH", 4: "PUBACK", 5: "PUBREC", 6: "PUBREL", 7: "PUBCOMP",
                8: "SUBSCRIBE", 9: "SUBACK", 10: "UNSUBSCRIBE", 11: "UNSUBACK", 12: "PINGREQ", 13: "PINGRESP",
                14: "DISCONNECT", 15: "AUTH"}


def mqtt_string(text):
    data = text.encode()
    return struct.pack("!H", len(data)) + data


def remaining_length(n):
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def packet(first_byte, body):
    return bytes([first_byte]) + remaining_length(len(body)) + body


class RawConnection:
    """A socket speaking MQTT bytes directly: over TCP, or inside WebSocket binary frames (written out here)."""

    def __init__(self, args):
        self.ws = args.transport == "websockets"
        self.sock = socket.create_connection((args.host, args.port), timeout=WAIT)
        self.inbox = b""  # MQTT bytes received, not yet parsed
        self.closed = False
        if self.ws:
            key = base64.b64encode(os.urandom(16)).decode()
            self.sock.sendall(
                f"GET {args.ws_path} HTTP/1.1\r\nHost: {args.host}:{args.port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                "Sec-WebSocket-Protocol: mqtt\r\n\r\n".encode()
            )
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = self.sock.recv(4096)
                if not chunk:
                    raise Failure("the WebSocket handshake was closed")
                head += chunk
            head, self.frames = head.split(b"\r\n\r\n", 1)
            status = head.split(b"\r\n")[0]
            if b" 101 " not in status:
                raise Failure(f"the WebSocket handshake got {status!r}")

    def send(self, data):
        if self.ws:
            mask = os.urandom(4)
            size = len(data)
            length = bytes([0x80 | size]) if size < 126 else bytes([0x80 | 126]) + struct.pack("!H", size)
            data = b"\x82" + length + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data))
        try:
            self.sock.sendall(data)
        except OSError:
            self.closed = True

    def _read_more(self, deadline):
        """Reads some bytes into the inbox; False once the connection is closed or the deadline has passed."""
        if self.closed:
            return False
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        self.sock.settimeout(left)
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            return False
        except OSError:
            chunk = b""
        if not chunk:
            self.closed = True
            return False
        if not self.ws:
            self.inbox += chunk
            return True
        self.frames += chunk
        while len(self.frames) >= 2:
            opcode, size, at = self.frames[0] & 0x0F, self.frames[1] & 0x7F, 2
            if size == 126:
                if len(self.frames) < 4:
                    break
                size, at = struct.unpack("!H", self.frames[2:4])[0], 4
            elif size == 127:
                if len(self.frames) < 10:
                    break
                size, at = struct.unpack("!Q", self.frames[2:10])[0], 10
            if len(self.frames) < at + size:
                break
            payload, self.frames = self.frames[at : at + size], self.frames[at + size :]
            if opcode == 8:  # a close frame: the broker has ended the session
                self.closed = True
                return False
            if opcode in (0, 2):
                self.inbox += payload
        return True

    def receive(self, until_closed):
        """What came back: each packet as 'TYPE' or 'TYPE 0xRC', then 'closed' if the broker closed the connection.
        Returns after the first packet unless `until_closed` (then: until it closes or RAW_CLOSE_WAIT passes)."""
        deadline = time.monotonic() + (RAW_CLOSE_WAIT if until_closed else WAIT)
        got = []
        while True:
            while True:  # parse what is in the inbox
                parsed = self._parse()
                if parsed is None:
                    break
                got.append(parsed)
                if not until_closed:
                    return got
            if not self._read_more(deadline):
                # The last read may have brought packets together with the close frame: keep those too.
                while (parsed := self._parse()) is not None:
                    got.append(parsed)
                break
        got.append("closed" if self.closed else "still open")
        return got

    def _parse(self):
        data = self.inbox
        if len(data) < 2:
            return None
        size, multiplier, at = 0, 1, 1
        while True:
            if at >= len(data):
                return None
            byte = data[at]
            size += (byte & 0x7F) * multiplier
            multiplier *= 128
            at += 1
            if not byte & 0x80:
                break
        if len(data) < at + size:
            return None
        kind, body = data[0] >> 4, data[at : at + size]
        self.inbox = data[at + size :]
        name = PACKET_NAMES.get(kind, f"type{kind}")
        if kind == 2:
            return f"{name} 0x{body[1]:02x}"
        if kind == 14:
            return f"{name} 0x{body[0] if body else 0:02x}"
        return name

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def scenario_bad_input(run):
    """Hostile packets, each on its own connection; the broker must close the connection (MQTT 5: a DISCONNECT with
    a reason code >= 0x80 may come first). Nothing on these connections may reach a subscriber."""
    v5 = run.v5

    def connect_packet(client_id):
        head = mqtt_string("MQTT") + bytes([5 if v5 else 4, 0x02]) + struct.pack("!H", 60)
        return packet(0x10, head + (b"\x00" if v5 else b"") + mqtt_string(client_id))

    def publish_packet(first_byte, topic, payload=b"x"):
        return packet(first_byte, mqtt_string(topic) + (b"\x00" if v5 else b"") + payload)

    topic = run.t("bad")
    cases = [
        ("before-connect", False, [("PUBLISH q0", publish_packet(0x30, topic))]),
        ("qos3", True, [("PUBLISH q3", publish_packet(0x36, topic))]),
        ("length5", True, [("PUBLISH len=5 bytes", b"\x30\x80\x80\x80\x80\x01")]),
        ("wildcard-topic", True, [("PUBLISH T/+/x", publish_packet(0x30, run.t("+/x")))]),
        ("second-connect", True, [("CONNECT", connect_packet(f"{run.prefix}-again".replace("/", "-")))]),
    ]
    watcher = run.peer("sub").connect()  # none of the hostile publishes may be delivered
    watcher.subscribe(run.t("#"), 0)
    problems = []
    for name, connect_first, sends in cases:
        run.rec.role(name)
        conn = RawConnection(run.args)
        try:
            if connect_first:
                conn.send(connect_packet(f"{run.prefix}-{name}".replace("/", "-")))
                run.rec.add(name, "> CONNECT")
                for answer in conn.receive(until_closed=False):
                    run.rec.add(name, f"< {answer}")
                if run.rec.of(name)[-1] != "< CONNACK 0x00":
                    problems.append(f"{name}: the valid CONNECT got {run.rec.of(name)[1:]}")
                    continue
            for shown, data in sends:
                conn.send(data)
                run.rec.add(name, f"> {shown}")
            answers = conn.receive(until_closed=True)
            for answer in answers:
                run.rec.add(name, f"< {answer}")
            if answers[-1] != "closed":
                problems.append(f"{name}: the connection was not closed within {RAW_CLOSE_WAIT:.0f}s")
            for answer in answers[:-1]:
                if not (v5 and answer.startswith("DISCONNECT 0x") and int(answer[-2:], 16) >= 0x80):
                    problems.append(f"{name}: unexpected answer {answer}")
        finally:
            conn.close()
    run.settle()
    watcher.disconnect()
    if run.rec.messages["sub"]:
        problems.append(f"hostile publishes were delivered: {run.rec.messages['sub']}")
    return problems


SCENARIOS = {
    "qos0": lambda run: scenario_qos(run, 0),
    "qos1": lambda run: scenario_qos(run, 1),
    "qos2": lambda run: scenario_qos(run, 2),
    "retained": scenario_retained,
    "will": scenario_will,
    "session": scenario_session,
    "resend": scenario_resend,
    "bad_input": scenario_bad_input,
}


def on_alarm(_signum, _frame):
    raise Failure(f"the scenario did not finish within {SCENARIO_LIMIT}s")


def run_scenario(args, name):
    run = Run(args, name)
    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(SCENARIO_LIMIT)
    try:
        problems = SCENARIOS[name](run)
        ok, detail = not problems, problems or {r: m for r, m in run.rec.messages.items() if m}
    except Failure as failure:
        ok, detail = False, str(failure)
    except Exception as error:  # noqa: BLE001 - reported as the scenario's failure, the next scenario still runs
        ok, detail = False, f"{type(error).__name__}: {error}"
    finally:
        signal.alarm(0)
        run.close()
    print(json.dumps({"scenario": name, "packets": run.rec.all_packets(), "ok": ok, "detail": detail}), flush=True)
    return ok


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--transport", choices=["tcp", "websockets"], default="tcp")
    parser.add_argument("--ws-path", default="/mqtt", help="the WebSocket path: /api/mqtt for the lab")
    parser.add_argument("--protocol", choices=["5", "311"], default="5")
    parser.add_argument("scenarios", nargs="+", choices=[*SCENARIOS, "all"])
    args = parser.parse_args()
    names = list(SCENARIOS) if "all" in args.scenarios else args.scenarios
    results = [run_scenario(args, name) for name in names]
    sys.exit(0 if all(results) else 1)


if __name__ == "__main__":
    main()
