"""A webhook receiver written the way a reader of the Standard Webhooks docs would write one, with PyPI's
`standardwebhooks` package and only the standard library's http.server around it: the lab's signatures are checked
by code the lab did not write.

    webhook_receiver.py FAIL_SEQ

Listens on 127.0.0.1, port 0, and prints `{"port": N}`. Then reads the endpoint's secret (`whsec_...`, known only
once the endpoint is registered with this port) as the first line on stdin and prints `{"ready": true}`. From then
on, one JSON line per request: {"id", "seq", "attempt" (how many times this id has arrived), "verified", "status"}.
Event FAIL_SEQ is answered 500 the first two times it arrives, so its third attempt succeeds. A request whose
signature does not verify gets 400. The line `gone` on stdin makes every later request get 410 Gone, and is
acknowledged with `{"gone": true}` once it holds. Ends when stdin closes.
"""

import json
import sys
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

fail_seq = int(sys.argv[1])
webhook = None
gone = False
arrivals = Counter()
lock = threading.Lock()


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        headers = {name.lower(): value for name, value in self.headers.items()}
        try:
            event = webhook.verify(body, headers)
            verified = True
        except WebhookVerificationError:
            event, verified = None, False
        with lock:
            msg_id = headers.get("webhook-id", "")
            arrivals[msg_id] += 1
            seq = event.get("seq") if isinstance(event, dict) else None
            if not verified:
                status = 400
            elif gone:
                status = 410
            elif seq == fail_seq and arrivals[msg_id] <= 2:
                status = 500
            else:
                status = 200
            line = {"id": msg_id, "seq": seq, "attempt": arrivals[msg_id], "verified": verified, "status": status}
            print(json.dumps(line), flush=True)
        self.send_response(status)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
print(json.dumps({"port": server.server_address[1]}), flush=True)
threading.Thread(target=server.serve_forever, daemon=True).start()
webhook = Webhook(sys.stdin.readline().strip())
print(json.dumps({"ready": True}), flush=True)
for command in sys.stdin:
    if command.strip() == "gone":
        with lock:
            gone = True
            print(json.dumps({"gone": True}), flush=True)
server.shutdown()
