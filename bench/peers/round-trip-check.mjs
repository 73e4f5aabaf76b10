// Independent round-trip timing against a running lab, to compare with its lanes' "round trip" figures: Node's
// `ws` package (publish frame → the event on the same socket) and Node's own http client (POST /api/publish → the
// event on an SSE stream). Nobody here wrote either client. Usage: node round-trip-check.mjs [host:port] [count]
import WebSocket from "ws";
import http from "node:http";
const base = process.argv[2] ?? "127.0.0.1:3000";
const n = Number(process.argv[3] ?? 20);
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.ceil(s.length / 2) - 1]; };

async function viaWebSocket() {
  const ws = new WebSocket(`ws://${base}/api/ws`, { origin: `http://${base}` });
  await new Promise((ok) => ws.once("open", ok));
  const times = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    let seq;
    let arrived;
    await new Promise((done) => {
      const onMessage = (data) => {
        const m = JSON.parse(String(data));
        if (m.type === "ack") seq = m.seq;
        if (m.type === "event" && m.kind === "message" && m.payload?.text === `check ws ${i}`) arrived = { seq: m.seq, at: performance.now() };
        if (seq !== undefined && arrived && arrived.seq === seq) { ws.off("message", onMessage); done(); }
      };
      ws.on("message", onMessage);
      ws.send(JSON.stringify({ type: "publish", text: `check ws ${i}` }));
    });
    times.push(arrived.at - t0);
    await new Promise((r) => setTimeout(r, 100));
  }
  ws.close();
  return times;
}

async function viaPostAndSse() {
  const events = new Map();
  let buffer = "";
  const waiters = new Map();
  await new Promise((ok) => {
    http.get(`http://${base}/api/sse?after=999999999`, (res) => {
      ok();
      res.setEncoding("utf8");
      res.on("data", (chunk) => {
        const at = performance.now();
        buffer += chunk;
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, end); buffer = buffer.slice(end + 2);
          const data = block.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trim()).join("");
          if (!data) continue;
          try { const e = JSON.parse(data); if (e.seq) { events.set(e.seq, at); waiters.get(e.seq)?.(at); } } catch {}
        }
      });
    });
  });
  await new Promise((r) => setTimeout(r, 300));
  const agent = new http.Agent({ keepAlive: true });
  const post = (text) => new Promise((ok) => {
    const body = JSON.stringify({ text });
    const req = http.request(`http://${base}/api/publish`, { method: "POST", agent, headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) } }, (res) => {
      let s = ""; res.on("data", (c) => (s += c)); res.on("end", () => ok(JSON.parse(s).seq));
    });
    req.end(body);
  });
  const times = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const seq = await post(`check sse ${i}`);
    const at = events.get(seq) ?? (await new Promise((done) => waiters.set(seq, done)));
    times.push(at - t0);
    await new Promise((r) => setTimeout(r, 100));
  }
  return times;
}

const ws = await viaWebSocket();
const sse = await viaPostAndSse();
console.log(`ws package, publish frame → event on the same socket: median ${median(ws).toFixed(2)} ms, min ${Math.min(...ws).toFixed(2)}, max ${Math.max(...ws).toFixed(2)} (n=${n})`);
console.log(`node http, POST /api/publish → event on an SSE stream: median ${median(sse).toFixed(2)} ms, min ${Math.min(...sse).toFixed(2)}, max ${Math.max(...sse).toFixed(2)} (n=${n})`);
process.exit(0);
