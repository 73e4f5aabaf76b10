// Checks that a server speaks the protocol the load tool expects, with a few clients of each transport.
// Works against the lab and the Express + ws peer (--transports poll,long_poll,sse,http_stream,ws) and the socket.io
// peer (--transports socket_io). Exits 1 on the first mismatch. It starts and pauses the server's generator.
//
//   node bench/peers/check.mjs --url http://127.0.0.1:3201 [--transports poll,long_poll,sse,http_stream,ws] [--rate 5]
import http from "node:http";
import { parseArgs } from "node:util";
import { WebSocket } from "ws";

const { values } = parseArgs({
  options: {
    url: { type: "string", default: "http://127.0.0.1:3201" },
    transports: { type: "string", default: "poll,long_poll,sse,http_stream,ws" },
    rate: { type: "string", default: "5" },
    seconds: { type: "string", default: "2" },
  },
});
const base = new URL(values.url);
const rate = Number(values.rate);
const transports = values.transports.split(",");
const nowMicros = () => Date.now() * 1000;
let failures = 0;

function check(condition, what) {
  if (!condition) {
    failures += 1;
    console.log(`FAIL ${what}`);
  }
  return condition;
}

function request(method, path, { body, headers = {} } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(new URL(path, base), { method, headers }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (chunk) => (text += chunk));
      res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, text }));
    });
    req.on("error", reject);
    if (body !== undefined) {
      req.setHeader("content-type", "application/json");
      req.end(JSON.stringify(body));
    } else req.end();
  });
}

const generator = (update) => request("POST", "/api/generator", { body: update }).then((r) => JSON.parse(r.text));

function checkEvent(event, where) {
  return (
    check(Number.isInteger(event.seq) && event.seq > 0, `${where}: seq ${event.seq}`) &&
    check(event.kind === "tick" || event.kind === "message", `${where}: kind ${event.kind}`) &&
    check(Math.abs(nowMicros() - event.emitted_at) < 5_000_000, `${where}: emitted_at ${event.emitted_at} is Unix µs`)
  );
}

// A stream of sequence numbers must be contiguous and start right after `after`.
function checkSequence(seqs, after, where) {
  seqs.forEach((seq, i) => check(seq === after + 1 + i, `${where}: expected seq ${after + 1 + i}, got ${seq}`));
}

async function checkPoll() {
  const head = JSON.parse((await request("GET", "/api/poll?after=0")).text);
  check(typeof head.epoch === "string" && Array.isArray(head.events), "poll body shape");
  const after = Math.max(0, head.next - 2);
  const r = await request("GET", `/api/poll?after=${after}`);
  check(r.status === 200 && r.headers["x-lab-epoch"] === head.epoch, "poll status and x-lab-epoch");
  const body = JSON.parse(r.text);
  body.events.forEach((e) => checkEvent(e, "poll"));
  checkSequence(body.events.map((e) => e.seq), after, "poll");
  check(body.next === (body.events.at(-1)?.seq ?? after), "poll next");
  console.log(`poll: ${body.events.length} events after ${after}, next ${body.next}`);
}

async function checkLongPoll() {
  const { next } = JSON.parse((await request("GET", "/api/poll?after=0")).text);
  const started = Date.now();
  const r = await request("GET", `/api/long-poll?after=${next}&timeout=5`);
  const waited = Date.now() - started;
  check(r.status === 200, `long poll answered 200 (got ${r.status})`);
  const body = JSON.parse(r.text);
  checkSequence(body.events.map((e) => e.seq), next, "long poll");
  check(body.events.length >= 1 && waited < 2000 / rate + 500, `long poll woke by the next event (${waited} ms)`);
  const latency = nowMicros() - body.events[0].emitted_at;
  console.log(`long poll: held ${waited} ms, ${body.events.length} event(s), latency ${latency} µs`);
  const stale = await request("GET", `/api/long-poll?after=${next + 1_000_000}&timeout=5`);
  check(stale.status === 200 && JSON.parse(stale.text).next <= next + 100, "cursor ahead of the log answered at once");
}

async function checkLongPollTimeout() {
  await generator({ paused: true });
  const { next } = JSON.parse((await request("GET", "/api/poll?after=0")).text);
  const started = Date.now();
  const r = await request("GET", `/api/long-poll?after=${next}&timeout=1`);
  const waited = Date.now() - started;
  check(r.status === 204 && waited >= 950 && waited < 1500, `long poll timeout: 204 after ~1 s (got ${r.status} after ${waited} ms)`);
  console.log(`long poll timeout: ${r.status} after ${waited} ms`);
  await generator({ paused: false });
}

// Reads an SSE stream for `ms` and returns its parsed events.
function sse(path, headers, ms) {
  return new Promise((resolve, reject) => {
    const events = [];
    const req = http.get(new URL(path, base), { headers }, (res) => {
      check(res.statusCode === 200 && res.headers["content-type"].startsWith("text/event-stream"), "sse head");
      let buffer = "";
      res.setEncoding("utf8");
      res.on("data", (chunk) => {
        buffer += chunk;
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const fields = {};
          for (const line of block.split("\n")) {
            if (line.startsWith(":")) continue;
            const colon = line.indexOf(":");
            fields[line.slice(0, colon)] = line.slice(colon + 1).replace(/^ /, "");
          }
          if (fields.event) events.push({ ...fields, received: nowMicros() });
        }
      });
    });
    req.on("error", reject);
    setTimeout(() => {
      req.destroy();
      resolve(events);
    }, ms);
  });
}

async function checkSse() {
  const live = await sse("/api/sse", {}, values.seconds * 1000);
  check(live[0]?.event === "hello", "sse: hello first");
  const hello = JSON.parse(live[0].data);
  const ticks = live.slice(1);
  check(ticks.length >= 1, "sse: live events arrive");
  ticks.forEach((t) => checkEvent(JSON.parse(t.data), "sse") && check(t.id === String(JSON.parse(t.data).seq), "sse id"));
  checkSequence(ticks.map((t) => Number(t.id)), hello.head_seq, "sse live");
  const latencies = ticks.map((t) => t.received - JSON.parse(t.data).emitted_at);
  console.log(`sse: hello head ${hello.head_seq}, ${ticks.length} live events, latency max ${Math.max(...latencies)} µs`);

  const resumeFrom = Math.max(0, hello.head_seq - 2);
  const resumed = await sse("/api/sse?after=0", { "Last-Event-ID": String(resumeFrom) }, 300);
  checkSequence(resumed.slice(1).map((t) => Number(t.id)), resumeFrom, "sse Last-Event-ID replay");
  check(resumed.length >= 3, "sse: Last-Event-ID replays the history");
  const byQuery = await sse(`/api/sse?after=${resumeFrom}`, {}, 300);
  checkSequence(byQuery.slice(1).map((t) => Number(t.id)), resumeFrom, "sse ?after replay");
  console.log(`sse resume: Last-Event-ID ${resumeFrom} -> ${resumed.length - 1} events, ?after -> ${byQuery.length - 1}`);
}

// Reads an NDJSON stream (`/api/stream`) for `ms` and returns its lines, parsed, keep-alive lines left out.
function ndjson(path, ms) {
  return new Promise((resolve, reject) => {
    const lines = [];
    const req = http.get(new URL(path, base), (res) => {
      check(res.statusCode === 200 && res.headers["content-type"].startsWith("application/x-ndjson"), "http_stream head");
      let buffer = "";
      res.setEncoding("utf8");
      res.on("data", (chunk) => {
        buffer += chunk;
        let end;
        while ((end = buffer.indexOf("\n")) >= 0) {
          const line = buffer.slice(0, end);
          buffer = buffer.slice(end + 1);
          const parsed = JSON.parse(line);
          if (parsed.type !== "keep_alive") lines.push({ ...parsed, received: nowMicros() });
        }
      });
    });
    req.on("error", reject);
    setTimeout(() => {
      req.destroy();
      resolve(lines);
    }, ms);
  });
}

async function checkHttpStream() {
  const lines = await ndjson("/api/stream", values.seconds * 1000);
  const hello = lines[0];
  check(hello?.type === "hello" && typeof hello.epoch === "string" && Number.isInteger(hello.exchange), "http_stream: hello first");
  const events = lines.slice(1);
  check(events.length >= 1 && events.every((l) => l.type === "event"), "http_stream: event lines");
  events.forEach((l) => checkEvent(l, "http_stream"));
  checkSequence(events.map((l) => l.seq), hello.head_seq, "http_stream live");
  console.log(`http_stream: hello head ${hello.head_seq}, ${events.length} events, latency max ${Math.max(...events.map((l) => l.received - l.emitted_at))} µs`);
  const resumeFrom = Math.max(0, hello.head_seq - 2);
  const resumed = await ndjson(`/api/stream?after=${resumeFrom}`, 300);
  checkSequence(resumed.slice(1).map((l) => l.seq), resumeFrom, "http_stream ?after replay");
  check(resumed.length >= 3, "http_stream: ?after replays the history");
  const bad = await request("GET", "/api/stream?after=soon");
  check(bad.status === 400 && JSON.parse(bad.text).field === "after", `http_stream: a bad after is 400 naming it (got ${bad.status})`);
  console.log(`http_stream resume: after ${resumeFrom} -> ${resumed.length - 1} events`);
}

function wsFrames(path, ms, onOpen) {
  return new Promise((resolve, reject) => {
    const frames = [];
    const ws = new WebSocket(new URL(path, base.href.replace(/^http/, "ws")));
    ws.on("open", () => onOpen?.(ws));
    ws.on("message", (data) => frames.push({ text: data.toString(), received: nowMicros() }));
    ws.on("error", reject);
    setTimeout(() => {
      ws.close();
      resolve(frames);
    }, ms);
  });
}

async function checkWs() {
  const frames = (await wsFrames("/api/ws", values.seconds * 1000)).map((f) => ({ ...JSON.parse(f.text), received: f.received }));
  check(frames[0]?.type === "hello" && typeof frames[0].epoch === "string", "ws: hello first");
  const events = frames.slice(1);
  check(events.length >= 1 && events.every((f) => f.type === "event"), "ws: event frames");
  events.forEach((f) => checkEvent(f, "ws"));
  checkSequence(events.map((f) => f.seq), frames[0].head_seq, "ws live");
  console.log(`ws: hello head ${frames[0].head_seq}, ${events.length} events, latency max ${Math.max(...events.map((f) => f.received - f.emitted_at))} µs`);
  const resumeFrom = Math.max(0, frames[0].head_seq - 2);
  const resumed = (await wsFrames(`/api/ws?after=${resumeFrom}`, 300)).map((f) => JSON.parse(f.text));
  checkSequence(resumed.slice(1).map((f) => f.seq), resumeFrom, "ws ?after replay");
  console.log(`ws resume: after ${resumeFrom} -> ${resumed.length - 1} events`);
}

// socket.io as its client does once upgraded: Engine.IO v4 packets over a WebSocket.
async function checkSocketIo() {
  const packets = await wsFrames("/socket.io/?EIO=4&transport=websocket", values.seconds * 1000, () => {});
  const open = packets[0]?.text;
  check(open?.startsWith("0{"), `socket.io: engine.io open packet (got ${open})`);
  // Connect to the main namespace, then collect: the frames list was filled while we waited, so do it live.
  const frames = await new Promise((resolve, reject) => {
    const got = [];
    const ws = new WebSocket(new URL("/socket.io/?EIO=4&transport=websocket", base.href.replace(/^http/, "ws")));
    ws.on("message", (data) => {
      const text = data.toString();
      if (text.startsWith("0")) ws.send("40");
      else if (text === "2") ws.send("3");
      else got.push({ text, received: nowMicros() });
    });
    ws.on("error", reject);
    setTimeout(() => {
      ws.close();
      resolve(got);
    }, values.seconds * 1000);
  });
  check(frames[0]?.text.startsWith("40"), "socket.io: namespace connect ack");
  const emits = frames.filter((f) => f.text.startsWith("42")).map((f) => ({ ...f, data: JSON.parse(f.text.slice(2)) }));
  const events = emits.filter((e) => e.data[0] === "event").map((e) => ({ ...e.data[1], received: e.received }));
  check(events.length >= 1, "socket.io: events arrive");
  events.forEach((e) => checkEvent(e, "socket.io"));
  checkSequence(events.map((e) => e.seq), events[0]?.seq - 1, "socket.io");
  console.log(`socket.io: ${emits.length} emits (${emits.map((e) => e.data[0]).slice(0, 2).join(", ")}...), ${events.length} events, latency max ${Math.max(...events.map((e) => e.received - e.emitted_at))} µs`);
}

const steps = {
  poll: checkPoll,
  long_poll: async () => (await checkLongPoll(), await checkLongPollTimeout()),
  sse: checkSse,
  http_stream: checkHttpStream,
  ws: checkWs,
  socket_io: checkSocketIo,
};

const settings = await generator({ rate_per_second: rate, payload_bytes: 16, paused: false });
check(settings.rate_per_second === rate && settings.payload_bytes === 16 && settings.paused === false, "generator settings echoed");
const bad = await request("POST", "/api/generator", { body: { rate_per_second: 1000 } });
check(bad.status === 400, `generator rejects rate 1000 (got ${bad.status})`);
await new Promise((r) => setTimeout(r, 1000));
for (const transport of transports) await steps[transport]();
await generator({ paused: true });
console.log(failures ? `${failures} check(s) failed` : "all checks passed");
process.exit(failures ? 1 : 0);
