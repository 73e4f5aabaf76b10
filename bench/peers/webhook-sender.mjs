// The webhook bench's Node.js sender: what a developer would write from the Standard Webhooks spec with nothing but
// Node: the shared generator, `node:crypto` HMAC-SHA256 over `{id}.{timestamp}.{body}`, and `fetch` for each POST.
// Every event goes to each of `--endpoints` endpoints (all at `--target`, each with its own secret), as the lab's
// sender does for its registered endpoints. fetch keeps its connections alive (undici's pool, its default); the lab
// opens a fresh connection per attempt.
//
// In flight is bounded (4 per endpoint, as the lab); an event beyond that is counted as `skipped`, never queued
// without bound. No retries: the bench's receiver always answers 204; a failure is counted and printed.
//
//   node bench/peers/webhook-sender.mjs --target http://127.0.0.1:3261/hook --endpoints 32 --rate 50
import { createHmac, randomBytes } from "node:crypto";
import { parseArgs } from "node:util";
import { Generator } from "./common.mjs";

const { values } = parseArgs({
  options: {
    target: { type: "string" },
    endpoints: { type: "string", default: "16" },
    rate: { type: "string", default: "50" },
    "payload-bytes": { type: "string", default: "0" },
  },
});
if (!values.target) throw new Error("--target http://host:port/path is required");
const MAX_IN_FLIGHT = 4;
const endpoints = Array.from({ length: Number(values.endpoints) }, () => ({ key: randomBytes(24), inFlight: 0 }));
const counts = { ok: 0, failed: 0, skipped: 0 };

async function deliver(endpoint, id, body) {
  const timestamp = Math.floor(Date.now() / 1000);
  const mac = createHmac("sha256", endpoint.key).update(`${id}.${timestamp}.${body}`).digest("base64");
  endpoint.inFlight += 1;
  try {
    const res = await fetch(values.target, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "webhook-id": id,
        "webhook-timestamp": String(timestamp),
        "webhook-signature": `v1,${mac}`,
      },
      body,
      signal: AbortSignal.timeout(5000),
    });
    await res.arrayBuffer();
    if (res.ok) counts.ok += 1;
    else counts.failed += 1;
  } catch {
    counts.failed += 1;
  } finally {
    endpoint.inFlight -= 1;
  }
}

const generator = new Generator(
  { rate: Number(values.rate), payloadBytes: Number(values["payload-bytes"]), paused: false, history: 1000 },
  (event) => {
    const id = `msg_${generator.epoch}_${event.seq}`;
    const body = JSON.stringify(event);
    for (const endpoint of endpoints) {
      if (endpoint.inFlight >= MAX_IN_FLIGHT) counts.skipped += 1;
      else deliver(endpoint, id, body);
    }
  },
);
console.log(`webhook-sender ready pid=${process.pid} endpoints=${endpoints.length} rate=${values.rate}`);
for (const signal of ["SIGINT", "SIGTERM"])
  process.on(signal, () => {
    console.log(`webhook-sender done ok=${counts.ok} failed=${counts.failed} skipped=${counts.skipped}`);
    process.exit(0);
  });
