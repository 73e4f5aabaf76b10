#!/usr/bin/env python3
"""Probes a running lab the way a curious student on the class's network would, and reports what it finds.

    python3 tools/probe.py http://127.0.0.1:3000            # a lab that asks for the teacher's key
    python3 tools/probe.py --loopback http://127.0.0.1:3000 # a lab on loopback alone (its one user is the teacher)

Every probe sends real bytes on a socket (standard library only: nothing to install) and checks the answer against
the spec and the lab's security model (docs/src/security.md): the right status and a JSON body naming the problem,
no crash, no class-wide change from a student or from another origin, no page's id or credentials leaked to
another page. It ends with the server still answering. Exit status 0 when every probe passed, 1 otherwise.
"""

import argparse
import base64
import json
import os
import socket
import sys
import time
import urllib.parse

FOREIGN = "http://evil.example"


class Lab:
    def __init__(self, url):
        parsed = urllib.parse.urlsplit(url)
        self.host, self.port = parsed.hostname, parsed.port or 80
        self.authority = f"{self.host}:{self.port}"
        self.findings = []
        self.probes = 0

    def raw(self, request: bytes, read_for=5.0):
        """Sends raw bytes; returns (status or None, headers, body) of the first answer."""
        with socket.create_connection((self.host, self.port), timeout=read_for) as sock:
            sock.sendall(request)
            data = b""
            deadline = time.time() + read_for
            while time.time() < deadline:
                try:
                    chunk = sock.recv(65536)
                except socket.timeout:
                    break
                if not chunk:
                    break
                data += chunk
                if complete(data):
                    break
        return parse(data)

    def request(self, method, path, body=None, headers=None):
        """One request, waited out and sent again while the lab answers 429: the probe keeps to the request rate a
        student's address has, so every answer it judges is the route's own."""
        for _ in range(20):
            answer = self.send(method, path, body, headers)
            if answer[0] != 429:
                return answer
            time.sleep(min(float(answer[1].get("retry-after", "1")), 2.0))
        return answer

    def send(self, method, path, body=None, headers=None):
        headers = dict(headers or {})
        payload = b"" if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        if body is not None and "content-type" not in {k.lower() for k in headers}:
            headers["Content-Type"] = "application/json"
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.authority}", "Connection: close"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        if payload or method in ("POST", "PUT", "DELETE"):
            lines.append(f"Content-Length: {len(payload)}")
        return self.raw(("\r\n".join(lines) + "\r\n\r\n").encode() + payload)

    def check(self, name, ok, detail=""):
        self.probes += 1
        if not ok:
            self.findings.append(f"{name}: {detail}")
            print(f"FAIL {name}: {detail}")


def complete(data: bytes) -> bool:
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        return False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value.strip())
    return False


def parse(data: bytes):
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    try:
        status = int(lines[0].split()[1])
    except (IndexError, ValueError):
        return None, {}, body
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers[name.strip().lower().decode()] = value.strip().decode(errors="replace")
    return status, headers, body


def error_code(body: bytes):
    try:
        return json.loads(body).get("error")
    except (ValueError, AttributeError):
        return None


def expect(lab, name, answer, status, error=None):
    got_status, _, body = answer
    ok = got_status == status and (error is None or error_code(body) == error)
    lab.check(name, ok, f"expected {status} {error or ''}, got {got_status} {body[:160]!r}")


def websocket(lab, path, origin=None):
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [f"GET {path} HTTP/1.1", f"Host: {lab.authority}", "Upgrade: websocket", "Connection: Upgrade",
             f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13"]
    if origin:
        lines.append(f"Origin: {origin}")
    sock = socket.create_connection((lab.host, lab.port), timeout=5)
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(1)
        if not chunk:
            break
        head += chunk
    return sock, int(head.split()[1]) if head else None


def send_frame(sock, opcode, payload: bytes):
    mask = os.urandom(4)
    header = bytes([0x80 | opcode])
    length = len(payload)
    if length < 126:
        header += bytes([0x80 | length])
    else:
        header += bytes([0x80 | 126]) + length.to_bytes(2, "big")
    sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))


def read_frame(sock):
    first = sock.recv(2)
    if len(first) < 2:
        return None, b""
    opcode, length = first[0] & 0x0F, first[1] & 0x7F
    if length == 126:
        length = int.from_bytes(sock.recv(2), "big")
    elif length == 127:
        length = int.from_bytes(sock.recv(8), "big")
    payload = b""
    while len(payload) < length:
        chunk = sock.recv(length - len(payload))
        if not chunk:
            break
        payload += chunk
    return opcode, payload


def next_text(sock):
    while True:
        opcode, payload = read_frame(sock)
        if opcode in (None, 0x1, 0x8):
            return opcode, payload


def stats(lab):
    status, _, body = lab.request("GET", "/api/stats")
    return json.loads(body) if status == 200 else None


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url")
    parser.add_argument("--loopback", action="store_true", help="the lab treats its one user as the teacher")
    args = parser.parse_args()
    lab = Lab(args.url)
    before = stats(lab)
    if before is None:
        sys.exit(f"no lab answers at {args.url}")

    # The spec's answers to requests no route should see.
    for request in [b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
                    b"GET example.com:80 HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n",
                    b"OPTIONS * HTTP/1.1\r\nHost: lab\r\nConnection: close\r\n\r\n"]:
        expect(lab, f"target {request.split()[1].decode()}", lab.raw(request), 400)
    expect(lab, "GET on a POST route", lab.request("GET", "/api/publish"), 405, "method_not_allowed")
    for path in ["/api", "/api/", "/api/nothing", "/api/%00", "/api/../etc/passwd"]:
        status, _, body = lab.request("GET", path)
        lab.check(f"unknown {path}", status in (400, 404) and error_code(body) is not None, f"{status} {body[:80]!r}")
    expect(lab, "unknown lesson", lab.request("GET", "/learn/no-such-lesson"), 404)
    expect(lab, "lesson id with a slash", lab.request("GET", "/learn/..%2f..%2fCargo"), 404)

    # Bodies: every one refused with its reason, nothing published.
    bodies = [
        (b'{"text":"x"} garbage', 400, "malformed_json"),
        (b'["hello"]', 400, "malformed_json"),
        (b'"hello"', 400, "malformed_json"),
        (b"\xff\xfe", 400, "malformed_json"),
        (b"{" * 5000, 400, "malformed_json"),
        (b'{"text":""}', 400, "invalid_field"),
        (b'{"text":"x","extra":1}', 400, "invalid_field"),
        (json.dumps({"text": "x" * 70000}).encode(), 400, "invalid_field"),
        (b"x" * (300 * 1024), 413, "body_too_large"),
    ]
    for body, status, error in bodies:
        expect(lab, f"publish body {body[:24]!r}", lab.request("POST", "/api/publish", body), status, error)
    expect(lab, "form body", lab.request("POST", "/api/publish", b"text=x",
                                         {"Content-Type": "application/x-www-form-urlencoded"}), 415)
    for query in ["after=abc", "after=-1", "after=99999999999999999999999", "limit=0", "nope=1", "client=%3Cb%3E"]:
        status, _, body = lab.request("GET", f"/api/poll?{query}")
        lab.check(f"poll ?{query}", status == 400 and error_code(body) == "invalid_parameter", f"{status} {body[:80]!r}")

    # Every route, every bad query: a 4xx naming the problem in JSON, never a 5xx, a hang or a stream.
    reads = ["/api/poll", "/api/long-poll", "/api/sse", "/api/stream", "/api/stats", "/api/time", "/api/class",
             "/api/lessons", "/api/wire", "/api/wire/http2", "/api/faults/delay", "/api/generator", "/api/scale"]
    bad_queries = ["after=abc", "after=-1", "after=1e3", "after=%00", "client=" + "x" * 40, "client=a%20b",
                   "timeout=99999", "limit=0", "limit=-5", "unknown=1", "after=1&after=2", "%ff=1"]
    for path in reads:
        for query in bad_queries:
            status, _, body = lab.request("GET", f"{path}?{query}")
            lab.check(f"GET {path}?{query}", status is not None and 400 <= status < 500 and error_code(body) is not None,
                      f"{status} {body[:100]!r}")
    # Every write route, every bad body (as a student: refused either way, and in JSON).
    bad_bodies = [b"", b"null", b"[]", b"{}x", b'{"a":1}', b'{"text":1}', b"\xff", b"{" * 300, b'"' + b"x" * 1000]
    write_routes = [("POST", "/api/publish"), ("POST", "/api/audio"), ("POST", "/api/generator"),
                    ("POST", "/api/faults/drop"), ("POST", "/api/faults/offline"), ("POST", "/api/faults/delay"),
                    ("POST", "/api/class/broadcast"), ("POST", "/api/webhooks/endpoints")]
    for method, path in write_routes:
        for body in bad_bodies:
            status, _, answer = lab.request(method, path, body)
            lab.check(f"{method} {path} body {body[:12]!r}",
                      status is not None and 400 <= status < 500 and error_code(answer) is not None,
                      f"{status} {answer[:100]!r}")
    # Heads the server must refuse without falling over.
    big_header = b"GET /api/time HTTP/1.1\r\nHost: lab\r\nX-Big: " + b"a" * (128 * 1024) + b"\r\n\r\n"
    status, _, _ = lab.raw(big_header)
    lab.check("a 128 KiB header", status is None or 400 <= status < 500, f"{status}")
    for garbage in [os.urandom(512), b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", b"PRI * HTTP/1.0\r\n\r\n",
                    b"GET / HTTP/9.9\r\nHost: lab\r\n\r\n", b"GET /\x00 HTTP/1.1\r\nHost: lab\r\n\r\n"]:
        status, _, _ = lab.raw(garbage, read_for=2.0)
        lab.check(f"garbage {garbage[:10]!r}", status is None or 400 <= status < 600, f"{status}")
    lab.check("alive after the garbage", stats(lab) is not None, "no answer")

    # Another origin changes nothing, on any route that changes something.
    writes = [("POST", "/api/faults/restart", {}), ("POST", "/api/generator", {"rate_per_second": 50}),
              ("POST", "/api/class/broadcast", {"text": "forged"}), ("POST", "/api/faults/offline", {"seconds": 120}),
              ("POST", "/api/faults/drop", {}), ("DELETE", "/api/faults", None), ("POST", "/api/publish", {"text": "x"})]
    for method, path, body in writes:
        expect(lab, f"{method} {path} from another origin",
               lab.request(method, path, body, {"Origin": FOREIGN}), 403, "forbidden_origin")
        expect(lab, f"{method} {path} cross-site without Origin",
               lab.request(method, path, body, {"Sec-Fetch-Site": "cross-site"}), 403, "forbidden_origin")
    https_page = f"https://{lab.authority}"
    expect(lab, "restart from an https page on the same host",
           lab.request("POST", "/api/faults/restart", {}, {"Origin": https_page}), 403, "forbidden_origin")

    # A student: no class-wide action, no other page's id.
    if not args.loopback:
        for method, path, body in writes[:6]:
            expect(lab, f"{method} {path} as a student", lab.request(method, path, body), 403, "teacher_only")
        expect(lab, "a wrong teacher key", lab.request("POST", "/api/faults/restart", {},
                                                       {"x-lab-teacher": "guess-guess-guess-guess"}), 403)
        victim = "probeVictimPage01"
        lab.request("POST", "/api/faults/delay", {"delay_ms": 100, "client": victim})
        status, _, body = lab.request("GET", "/api/faults/delay")
        lab.check("delay rules list no page's id", status == 200 and victim.encode() not in body, f"{body[:120]!r}")
        lab.request("DELETE", f"/api/faults?client={victim}")
        expect(lab, "teacher link with a wrong key", lab.request("GET", "/teacher?key=nope"), 403, "teacher_key_wrong")

    # Credentials never reach the wire record.
    page = "probeCredentials01"
    lab.request("GET", f"/api/poll?client={page}", headers={"Cookie": "lab_teacher=probe-secret-value"})
    time.sleep(0.2)
    status, _, body = lab.request("GET", f"/api/wire?client={page}")
    lab.check("cookie hidden in the wire record", status == 200 and b"probe-secret-value" not in body, f"{body[:200]!r}")

    # WebSocket: foreign origin, bad frames, the closing handshake.
    _, status = websocket(lab, "/api/ws", FOREIGN)
    lab.check("WebSocket from another origin", status == 403, f"status {status}")
    _, status = websocket(lab, "/api/ws", f"https://{lab.authority}")
    lab.check("WebSocket from an https page on the same host", status == 403, f"status {status}")
    sock, status = websocket(lab, "/api/ws")
    lab.check("WebSocket handshake", status == 101, f"status {status}")
    if status == 101:
        next_text(sock)  # hello
        for frame in [b'{"type":"publish","text":"x"} garbage', b'["publish","x"]', b"{}", b"\x00"]:
            send_frame(sock, 0x1, frame)
            opcode, payload = next_text(sock)
            reply = json.loads(payload) if opcode == 0x1 else {}
            lab.check(f"WebSocket frame {frame[:20]!r}", reply.get("type") == "error", f"{opcode} {payload[:120]!r}")
        send_frame(sock, 0x8, (1000).to_bytes(2, "big") + b"bye")
        opcode, payload = next_text(sock)
        code = int.from_bytes(payload[:2], "big") if opcode == 0x8 and len(payload) >= 2 else None
        lab.check("WebSocket closing handshake", code == 1000, f"{opcode} {payload!r}")
        sock.close()
    sock, status = websocket(lab, "/api/ws")
    if status == 101:
        next_text(sock)
        send_frame(sock, 0x2, b"\x01\x02")
        opcode, payload = next_text(sock)
        code = int.from_bytes(payload[:2], "big") if opcode == 0x8 and len(payload) >= 2 else None
        lab.check("WebSocket binary frame closes 1003", code == 1003, f"{opcode} {payload!r}")
        sock.close()

    # Nothing class-wide changed, and the lab still answers.
    after = stats(lab)
    lab.check("the lab still answers", after is not None, "no answer to /api/stats")
    if after and not args.loopback:
        lab.check("no restart got through", after["epoch"] == before["epoch"], f"{before['epoch']} -> {after['epoch']}")
        lab.check("the generator unchanged", after["generator"] == before["generator"],
                  f"{before['generator']} -> {after['generator']}")
    print(f"{lab.probes} probes, {len(lab.findings)} findings")
    sys.exit(1 if lab.findings else 0)


if __name__ == "__main__":
    main()
