// What both peers share: command-line flags, the wall clock in microseconds, and the event generator with its
// bounded history. Written the way a developer would for a small real-time service: one process, plain objects,
// timers. Nothing here knows about transports; each server decides how to send an event.
import { randomBytes } from "node:crypto";
import http from "node:http";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";

export function options() {
  const { values } = parseArgs({
    options: {
      port: { type: "string", default: process.env.PORT ?? "3201" },
      host: { type: "string", default: process.env.HOST ?? "127.0.0.1" },
      rate: { type: "string", default: "1" },
      "payload-bytes": { type: "string", default: "0" },
      paused: { type: "boolean", default: false },
      history: { type: "string", default: "10000" },
      // The grpc-js peer only: its gRPC listener, beside the HTTP one for the generator's knobs.
      "grpc-port": { type: "string", default: "" },
    },
  });
  return {
    port: Number(values.port),
    host: values.host,
    rate: Number(values.rate),
    payloadBytes: Number(values["payload-bytes"]),
    paused: values.paused,
    history: Number(values.history),
    grpcPort: Number(values["grpc-port"] || Number(values.port) + 1),
  };
}

// Unix microseconds with sub-millisecond resolution (Date.now() only has milliseconds). timeOrigin + now() is
// anchored once, at start, to the system clock's next millisecond boundary, so that emitted_at agrees with the
// load tool's clock (CLOCK_REALTIME) the way the lab's does; on this machine the raw sum runs ~40 µs ahead.
const clockOffsetMs = (() => {
  let best = Infinity;
  for (let i = 0; i < 5; i++) {
    const start = Date.now();
    let now;
    while ((now = Date.now()) === start) {}
    const offset = performance.timeOrigin + performance.now() - now;
    if (Math.abs(offset) < Math.abs(best)) best = offset;
  }
  return best;
})();

export function unixMicros() {
  return Math.round((performance.timeOrigin + performance.now() - clockOffsetMs) * 1000);
}

export const MIN_RATE = 0.1;
export const MAX_RATE = 50;
export const MAX_PAYLOAD_BYTES = 64 * 1024;

function filler(bytes) {
  const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  return alphabet.repeat(Math.ceil(bytes / alphabet.length)).slice(0, bytes);
}

// The event source: `tick` events at `rate_per_second`, numbered from 1, the last `history` of them kept.
// `onEvent(event)` is called once per event; the server sends it to its clients.
export class Generator {
  constructor({ rate, payloadBytes, paused, history }, onEvent) {
    this.epoch = randomBytes(8).toString("hex");
    this.settings = { rate_per_second: rate, payload_bytes: payloadBytes, paused };
    this.capacity = history;
    this.events = [];
    this.headSeq = 0;
    this.ticks = 0;
    this.onEvent = onEvent;
    this.timer = null;
    this.schedule(true);
  }

  // Any subset of the fields; all checked before any is applied. Returns an error message or null.
  update(body) {
    if (body === null || typeof body !== "object" || Array.isArray(body)) return "body must be a JSON object";
    const { rate_per_second: rate, payload_bytes: bytes, paused, ...rest } = body;
    if (Object.keys(rest).length) return `unknown field ${Object.keys(rest)[0]}`;
    if (rate !== undefined && !(typeof rate === "number" && rate >= MIN_RATE && rate <= MAX_RATE))
      return `rate_per_second must be between ${MIN_RATE} and ${MAX_RATE}`;
    if (bytes !== undefined && !(Number.isInteger(bytes) && bytes >= 0 && bytes <= MAX_PAYLOAD_BYTES))
      return `payload_bytes must be an integer from 0 to ${MAX_PAYLOAD_BYTES}`;
    if (paused !== undefined && typeof paused !== "boolean") return "paused must be true or false";
    if (rate !== undefined) this.settings.rate_per_second = rate;
    if (bytes !== undefined) this.settings.payload_bytes = bytes;
    if (paused !== undefined) this.settings.paused = paused;
    this.schedule(true);
    return null;
  }

  // Ticks on deadlines (start + k × period) so the rate stays exact instead of drifting by each timer's lateness.
  // Sending to 10,000 clients blocks this one thread for tens of milliseconds, so the next tick is often late: it
  // then fires at once, catching up, and every server is offered the same number of events. Only a stall of over
  // a second (a suspended machine) starts the schedule afresh instead of firing a burst.
  schedule(restart) {
    clearTimeout(this.timer);
    this.timer = null;
    if (this.settings.paused) return;
    const period = 1000 / this.settings.rate_per_second;
    if (restart) this.nextTick = performance.now();
    const wait = Math.max(0, this.nextTick - performance.now());
    this.timer = setTimeout(() => {
      this.ticks += 1;
      this.publish("tick", { n: this.ticks, filler: filler(this.settings.payload_bytes) });
      this.nextTick += period;
      if (this.nextTick < performance.now() - 1000) this.nextTick = performance.now() + period;
      this.schedule(false);
    }, wait);
  }

  publish(kind, payload) {
    this.headSeq += 1;
    const event = { seq: this.headSeq, emitted_at: unixMicros(), kind, payload };
    this.events.push(event);
    if (this.events.length > this.capacity) this.events.shift();
    this.onEvent(event);
    return event;
  }

  // Events after `after` (at most `limit`), and the range the history no longer holds, as the lab answers a poll.
  after(after, limit = 1000) {
    const first = this.events.length ? this.events[0].seq : this.headSeq + 1;
    const start = Math.max(after + 1, first);
    const events = this.events.slice(start - first, start - first + limit);
    const gap = after + 1 < first && this.headSeq >= first ? { from: after + 1, to: first - 1 } : undefined;
    return { events, gap };
  }

  // The body of a poll (and of a long poll answered with events).
  pollBody(after, limit) {
    const { events, gap } = this.after(after, limit);
    const next = events.length ? events[events.length - 1].seq : gap ? gap.to : Math.min(after, this.headSeq);
    return gap ? { epoch: this.epoch, events, next, gap } : { epoch: this.epoch, events, next };
  }
}

// A non-negative integer query parameter, or the default when absent; NaN when malformed.
export function intParam(value, fallback) {
  if (value === undefined || value === "") return fallback;
  return /^\d+$/.test(String(value)) ? Number(value) : NaN;
}

// A plain Node HTTP server for the generator's knobs (`GET`/`POST /api/generator`) and the clock (`/api/time`),
// for the peers whose transport is not HTTP the load tool can drive them through: socket.io attaches to it, and
// grpc-js serves gRPC on a port of its own beside it.
export function knobsServer(generator) {
  const json = (res, status, body) => {
    res.writeHead(status, { "Content-Type": "application/json", "x-lab-epoch": generator.epoch });
    res.end(JSON.stringify(body));
  };
  return http.createServer((req, res) => {
    const { pathname } = new URL(req.url, "http://peer");
    if (pathname === "/api/generator" && req.method === "GET") return json(res, 200, generator.settings);
    if (pathname === "/api/generator" && req.method === "POST") {
      let body = "";
      req.setEncoding("utf8");
      req.on("data", (chunk) => (body += chunk));
      req.on("end", () => {
        let update;
        try {
          update = JSON.parse(body);
        } catch {
          return json(res, 400, { error: "invalid_json", message: "body is not JSON" });
        }
        const error = generator.update(update);
        if (error) return json(res, 400, { error: "invalid_field", message: error });
        json(res, 200, generator.settings);
      });
      return;
    }
    if (pathname === "/api/time" && req.method === "GET") return json(res, 200, { server_time: unixMicros() });
    json(res, 404, { error: "not_found", message: "no such route" });
  });
}
