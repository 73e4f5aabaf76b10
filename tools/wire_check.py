#!/usr/bin/env python3
"""Cross-checks the lab's own figures against a packet capture of the same traffic (tshark, Debian's package).

For every server -> browser TCP segment on the lab's port it finds each event (`"seq":N,"emitted_at":T`), and
reports, per transport, how long after `emitted_at` the bytes were on the wire (capture time - emitted_at), and
the TCP payload bytes the server sent. Usage:

    tshark -i lo -f 'tcp port 3000' -w /tmp/lab.pcap -a duration:30 &   # while a browser has the lab open
    python3 tools/wire_check.py /tmp/lab.pcap 3000
"""
import re
import statistics
import subprocess
import sys
from collections import defaultdict

EVENT = re.compile(rb'"seq":(\d+),"emitted_at":(\d+)')
ROUTES = [(b"GET /api/long-poll", "long_poll"), (b"GET /api/poll", "short_poll"), (b"GET /api/sse", "sse"), (b"GET /api/ws", "web_socket")]


def main(pcap: str, port: str) -> None:
    fields = subprocess.run(
        ["tshark", "-r", pcap, "-Y", "tcp.len > 0", "-T", "fields", "-e", "frame.time_epoch", "-e", "tcp.stream",
         "-e", "tcp.srcport", "-e", "tcp.payload"],
        check=True, capture_output=True, text=True).stdout
    stream_transport, latency, sent_bytes = {}, defaultdict(list), defaultdict(int)
    for line in fields.splitlines():
        at, stream, source, payload = line.split("\t")
        data = bytes.fromhex(payload.replace(":", ""))
        if source != port:
            for prefix, transport in ROUTES:
                if data.startswith(prefix):
                    stream_transport[stream] = transport
            continue
        transport = stream_transport.get(stream, "other")
        sent_bytes[transport] += len(data)
        for _seq, emitted in EVENT.findall(data):
            latency[transport].append(float(at) * 1000 - int(emitted) / 1000)
    print(f"{'transport':<12}{'events':>8}{'wire p50 ms':>13}{'wire max ms':>13}{'TCP bytes sent':>16}")
    for transport in ["short_poll", "long_poll", "sse", "web_socket"]:
        values = latency[transport]
        if values:
            print(f"{transport:<12}{len(values):>8}{statistics.median(values):>13.2f}{max(values):>13.2f}{sent_bytes[transport]:>16}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "3000")
