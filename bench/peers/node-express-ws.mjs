// The peer people would write in Node.js: an Express app for polling, long polling, SSE and an NDJSON stream, and the `ws` package's
// WebSocketServer on the same HTTP server. Same endpoints and message shapes as the lab (see the lab's docs/src/api/index.md,
// "HTTP and WebSocket API"), so the same load tool drives both. Express and ws keep their defaults.
//
//   NODE_ENV=production node bench/peers/node-express-ws.mjs --port 3201 [--paused] [--rate 1] [--payload-bytes 0]
import http from "node:http";
import express from "express";
import { WebSocketServer, WebSocket } from "ws";
import { Generator, intParam, options, unixMicros } from "./common.mjs";

const opts = options();
const app = express();
const server = http.createServer(app);
const wss = new WebSocketServer({ server, path: "/api/ws" });
const sseClients = new Set();
const streamClients = new Set();
const longPolls = new Set();

const generator = new Generator(opts, (event) => {
  // Encoded once per event; every client gets the same string.
  const sse = `id: ${event.seq}\nevent: ${event.kind}\ndata: ${JSON.stringify(event)}\n\n`;
  for (const res of sseClients) res.write(sse);

  const frame = JSON.stringify({ type: "event", ...event });
  wss.clients.forEach((client) => {
    if (client.readyState === WebSocket.OPEN) client.send(frame);
  });

  // The NDJSON stream's line is the WebSocket frame and a newline.
  const line = frame + "\n";
  for (const res of streamClients) res.write(line);

  for (const waiter of longPolls) waiter.answer();
});

app.use((req, res, next) => {
  res.set("x-lab-epoch", generator.epoch);
  next();
});
app.use(express.json());

const badRequest = (res, field, message) => res.status(400).json({ error: "invalid_parameter", field, message });

app.get("/api/generator", (req, res) => res.json(generator.settings));
app.post("/api/generator", (req, res) => {
  const error = generator.update(req.body);
  if (error) return res.status(400).json({ error: "invalid_field", message: error });
  res.json(generator.settings);
});

app.post("/api/publish", (req, res) => {
  const text = req.body?.text;
  if (typeof text !== "string" || !text.trim() || Buffer.byteLength(text) > 1024)
    return res.status(400).json({ error: "invalid_field", field: "text", message: "must be 1-1024 bytes" });
  res.status(202).json({ seq: generator.publish("message", { text }).seq });
});

app.get("/api/time", (req, res) => res.json({ server_time: unixMicros() }));

app.get("/api/poll", (req, res) => {
  const after = intParam(req.query.after, 0);
  const limit = intParam(req.query.limit, 1000);
  if (Number.isNaN(after)) return badRequest(res, "after", "must be a sequence number");
  if (!(limit >= 1 && limit <= 10000)) return badRequest(res, "limit", "must be between 1 and 10000");
  res.json(generator.pollBody(after, limit));
});

app.get("/api/long-poll", (req, res) => {
  const after = intParam(req.query.after, 0);
  const timeout = intParam(req.query.timeout, 25);
  if (Number.isNaN(after)) return badRequest(res, "after", "must be a sequence number");
  if (!(timeout >= 1 && timeout <= 60)) return badRequest(res, "timeout", "must be between 1 and 60 seconds");
  // Hold only while there is nothing after the cursor; a cursor behind the head, or ahead of it (from an earlier
  // run), is answered at once.
  if (after === generator.headSeq) {
    const waiter = {
      answer() {
        done();
        res.json(generator.pollBody(after));
      },
    };
    const timer = setTimeout(() => {
      done();
      res.status(204).end();
    }, timeout * 1000);
    const done = () => {
      clearTimeout(timer);
      longPolls.delete(waiter);
    };
    longPolls.add(waiter);
    res.on("close", done);
    return;
  }
  res.json(generator.pollBody(after));
});

app.get("/api/sse", (req, res) => {
  const lastEventId = req.get("last-event-id");
  const after = intParam(lastEventId?.trim() || req.query.after, undefined);
  if (Number.isNaN(after)) return badRequest(res, "after", "must be a sequence number");
  res.writeHead(200, {
    "Content-Type": "text/event-stream",
    "Cache-Control": "no-cache",
    Connection: "keep-alive",
  });
  res.write(`retry: 2000\nevent: hello\ndata: ${JSON.stringify({ epoch: generator.epoch, head_seq: generator.headSeq })}\n\n`);
  if (after !== undefined) {
    const { events, gap } = generator.after(after, Infinity);
    if (gap) res.write(`id: ${gap.to}\nevent: gap\ndata: ${JSON.stringify(gap)}\n\n`);
    for (const event of events) res.write(`id: ${event.seq}\nevent: ${event.kind}\ndata: ${JSON.stringify(event)}\n\n`);
  }
  sseClients.add(res);
  res.on("close", () => sseClients.delete(res));
});

// HTTP streaming: one response that never ends, a JSON line per event (`application/x-ndjson`), tagged by "type"
// as the WebSocket's frames are. No ids, no retry: the client resumes itself with ?after=.
app.get("/api/stream", (req, res) => {
  const after = intParam(req.query.after, undefined);
  if (Number.isNaN(after)) return badRequest(res, "after", "must be a sequence number");
  res.writeHead(200, {
    "Content-Type": "application/x-ndjson",
    "Cache-Control": "no-cache",
    "X-Accel-Buffering": "no",
  });
  res.write(JSON.stringify({ type: "hello", epoch: generator.epoch, head_seq: generator.headSeq, exchange: 0 }) + "\n");
  if (after !== undefined) {
    const { events, gap } = generator.after(after, Infinity);
    if (gap) res.write(JSON.stringify({ type: "gap", ...gap }) + "\n");
    for (const event of events) res.write(JSON.stringify({ type: "event", ...event }) + "\n");
  }
  streamClients.add(res);
  res.on("close", () => streamClients.delete(res));
});

// An idle stream gets a comment (SSE) or a keep-alive line (NDJSON) every 15 s so proxies keep it open.
setInterval(() => {
  for (const res of sseClients) res.write(": keep-alive\n\n");
  for (const res of streamClients) res.write('{"type":"keep_alive"}\n');
}, 15_000);

wss.on("connection", (ws, req) => {
  const after = intParam(new URL(req.url, "http://peer").searchParams.get("after") ?? undefined, undefined);
  ws.isAlive = true;
  ws.on("pong", () => (ws.isAlive = true));
  ws.on("error", () => {});
  ws.on("message", (data) => {
    let message;
    try {
      message = JSON.parse(data);
    } catch {
      return ws.send(JSON.stringify({ type: "error", error: "invalid_json", message: "not JSON" }));
    }
    if (message?.type !== "publish" || typeof message.text !== "string" || !message.text.trim())
      return ws.send(JSON.stringify({ type: "error", error: "invalid_field", message: "expected a publish" }));
    ws.send(JSON.stringify({ type: "ack", seq: generator.publish("message", { text: message.text }).seq }));
  });
  ws.send(JSON.stringify({ type: "hello", epoch: generator.epoch, head_seq: generator.headSeq }));
  if (after !== undefined && !Number.isNaN(after)) {
    const { events, gap } = generator.after(after, Infinity);
    if (gap) ws.send(JSON.stringify({ type: "gap", ...gap }));
    for (const event of events) ws.send(JSON.stringify({ type: "event", ...event }));
  }
});

// The heartbeat from ws's README, every 20 s as the lab pings: a client that did not answer the last ping is gone.
const heartbeat = setInterval(() => {
  wss.clients.forEach((ws) => {
    if (ws.isAlive === false) return ws.terminate();
    ws.isAlive = false;
    ws.ping();
  });
}, 20_000);
wss.on("close", () => clearInterval(heartbeat));

server.listen(opts.port, opts.host, () => {
  console.log(`node-express-ws ready pid=${process.pid} url=http://${opts.host}:${opts.port} env=${process.env.NODE_ENV ?? ""}`);
});

for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => process.exit(0));
