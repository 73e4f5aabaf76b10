// A class of N students against one lab server: does every lane of every student keep up, and what does the
// server spend? A measurement to report, not a pass/fail test.
//
//   node --experimental-websocket end2end/bench/class-of-60.mjs --pid <server pid> \
//        [--url http://127.0.0.1:3000] [--students 60] [--rate 2] [--seconds 60] [--mode raw|browsers]
//
// --mode raw (default): each student is what a lab page does on the wire, without a browser: a short poll every
//   second, a long poll held and re-asked, an SSE stream, a WebSocket, the once-a-second side channel (/api/wire)
//   and a clock exchange every 5 s, all with the student's own client id. Only the server's work is measured.
// --mode browsers: each student is a real lab page in its own Chromium context (its own connection pool). On
//   one small machine the 60 browsers then compete with the server for the same cores, which a real class
//   does not do; it shows correctness (missed / duplicated), not the server's cost.
//
// Start the server so that one address may do what sixty would in a class (every student here is 127.0.0.1):
//   target/release/server --addr 127.0.0.1:3000 --max-requests-per-second 0 --max-connections-per-address 1000
// The generator rate is shared: this sets it for everyone.
import { readFileSync } from "node:fs";
import { chromium } from "playwright-core";

const args = Object.fromEntries(
  process.argv.slice(2).reduce((pairs, arg, i, all) => (arg.startsWith("--") ? [...pairs, [arg.slice(2), all[i + 1]]] : pairs), []),
);
const url = args.url ?? "http://127.0.0.1:3000";
const students = Number(args.students ?? 60);
const rate = Number(args.rate ?? 2);
const seconds = Number(args.seconds ?? 60);
const mode = args.mode ?? "raw";
const pid = Number(args.pid);
if (!pid) throw new Error("--pid <server pid> is required (for its CPU time and memory)");
const TRANSPORTS = ["short_poll", "long_poll", "sse", "web_socket"];
const CLOCK_TICKS = 100; // USER_HZ on Linux

const nowMicros = () => Math.round((performance.timeOrigin + performance.now()) * 1000);
const sleep = (ms) => new Promise((done) => setTimeout(done, ms));
const getJson = async (path) => (await fetch(`${url}${path}`)).json();

/** The server's CPU seconds so far and its resident memory now, from /proc. */
function serverUsage() {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const cpuSeconds = (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))[1]);
  return { cpuSeconds, rssKb };
}

/** One lane's record: which sequence numbers arrived, how late. */
class LaneTally {
  constructor() {
    this.seqs = new Map();
    this.latencies = [];
    this.duplicates = 0;
    this.errors = 0;
  }
  event(event) {
    if (this.seqs.has(event.seq)) this.duplicates++;
    else this.seqs.set(event.seq, nowMicros() - event.emitted_at);
  }
}

function rawStudent(index, startAfter, stop) {
  const client = `class60-${index}`;
  const lanes = Object.fromEntries(TRANSPORTS.map((transport) => [transport, new LaneTally()]));
  const tasks = [];
  const loop = (body) => tasks.push((async () => { while (!stop.stopped) await body(); })());

  let shortCursor = startAfter;
  loop(async () => {
    try {
      const answer = await getJson(`/api/poll?after=${shortCursor}&client=${client}`);
      answer.events.forEach((event) => lanes.short_poll.event(event));
      shortCursor = answer.next;
    } catch { lanes.short_poll.errors++; }
    await sleep(1000);
  });

  let longCursor = startAfter;
  loop(async () => {
    try {
      // Its own controller, aborted at the end; one shared signal would gather a listener per request.
      const held = new AbortController();
      stop.held.add(held);
      const response = await fetch(`${url}/api/long-poll?after=${longCursor}&timeout=25&client=${client}`, { signal: held.signal })
        .finally(() => stop.held.delete(held));
      if (response.status === 200) {
        const answer = await response.json();
        answer.events.forEach((event) => lanes.long_poll.event(event));
        longCursor = answer.next;
      } else if (response.status !== 204) {
        lanes.long_poll.errors++;
        await sleep(500);
      }
    } catch { if (!stop.stopped) { lanes.long_poll.errors++; await sleep(500); } }
  });

  tasks.push((async () => {
    try {
      const response = await fetch(`${url}/api/sse?after=${startAfter}&client=${client}`, { signal: stop.signal });
      const decoder = new TextDecoder();
      let buffer = "";
      for await (const chunk of response.body) {
        buffer += decoder.decode(chunk, { stream: true });
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const name = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (data && name !== "hello" && name !== "gap") lanes.sse.event(JSON.parse(data));
        }
      }
    } catch { if (!stop.stopped) lanes.sse.errors++; }
  })());

  tasks.push(new Promise((done) => {
    const socket = new WebSocket(`${url.replace(/^http/, "ws")}/api/ws?after=${startAfter}&client=${client}`);
    socket.binaryType = "arraybuffer";
    socket.onmessage = (message) => {
      // An audio event is one binary frame whose first 16 bytes are seq and emitted_at, big-endian (docs/src/api/audio.md).
      if (typeof message.data !== "string") {
        const header = new DataView(message.data);
        lanes.web_socket.event({ seq: Number(header.getBigUint64(0)), emitted_at: Number(header.getBigUint64(8)) });
        return;
      }
      const frame = JSON.parse(message.data);
      if (frame.type === "event") lanes.web_socket.event(frame);
    };
    socket.onerror = () => lanes.web_socket.errors++;
    stop.signal.addEventListener("abort", () => { socket.close(1000); done(); });
  }));

  let wireAfter = 0;
  loop(async () => {
    try {
      const page = await getJson(`/api/wire?client=${client}&after=${wireAfter}`);
      wireAfter = page.next;
    } catch { /* the side channel is not a lane */ }
    await sleep(1000);
  });
  loop(async () => {
    try { await getJson("/api/time"); } catch { /* not a lane */ }
    await sleep(5000);
  });
  return { lanes, done: () => Promise.allSettled(tasks) };
}

function percentile(sorted, share) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(share * sorted.length))];
}

async function runRaw() {
  const stop = { stopped: false, controller: new AbortController(), held: new Set() };
  stop.signal = stop.controller.signal;
  const startAfter = (await getJson("/api/stats")).head_seq;
  const roster = Array.from({ length: students }, (_, index) => rawStudent(index, startAfter, stop));
  return { roster, startAfter, stop };
}

async function main() {
  await fetch(`${url}/api/generator`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ rate_per_second: rate, paused: false }) });
  let browser;
  let raw;
  let pages = [];
  let notJoined = 0;
  const started = Date.now();
  if (mode === "raw") {
    raw = await runRaw();
  } else {
    browser = await chromium.launch({
      executablePath: "/usr/bin/chromium",
      args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
    for (let index = 0; index < students; index++) {
      const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
      const page = await context.newPage();
      await page.goto(url);
      pages.push(page);
    }
    // A page whose lanes never opened (a browser too starved of CPU to start its wasm) is reported, not waited for.
    const joined = [];
    for (const page of pages) {
      const ready = await page
        .waitForFunction(
          (transports) =>
            transports.every((t) => t === "short_poll" || document.querySelector(`[data-testid="lane-${t}"] [data-testid="lane-status"]`)?.textContent === "open"),
          TRANSPORTS,
          { timeout: 120_000 },
        )
        .then(() => true, () => false);
      if (ready) joined.push(page);
    }
    notJoined = pages.length - joined.length;
    pages = joined;
  }
  const joinSeconds = (Date.now() - started) / 1000;
  await sleep(5000); // warm-up
  const firstSeq = (await getJson("/api/stats")).head_seq + 1;
  const before = serverUsage();
  let peakRssKb = before.rssKb;
  const class_ = [];
  const measuredFrom = Date.now();
  while (Date.now() - measuredFrom < seconds * 1000) {
    await sleep(1000);
    peakRssKb = Math.max(peakRssKb, serverUsage().rssKb);
    if (class_.length < 3 && Date.now() - measuredFrom > 3000) class_.push(await getJson("/api/class"));
  }
  const lastSeq = (await getJson("/api/stats")).head_seq;
  const after = serverUsage();
  await sleep(3000); // let the slowest lane (short polling, 1 s) catch up with lastSeq
  const stats = await getJson("/api/stats");

  const result = {
    mode, students, notJoined, rate, seconds, joinSeconds,
    events: lastSeq - firstSeq + 1,
    server: {
      cpuPercentOfOneCore: (100 * (after.cpuSeconds - before.cpuSeconds)) / seconds,
      rssMbBefore: before.rssKb / 1024, rssMbPeak: peakRssKb / 1024, rssMbAfter: after.rssKb / 1024,
      openConnections: Object.fromEntries(TRANSPORTS.map((t) => [t, stats.transports[t].open_connections])),
    },
    presence: class_.map((c) => ({ pages: c.pages, ...Object.fromEntries(TRANSPORTS.map((t) => [t, c.transports[t].pages])) })),
    lanes: {},
  };
  if (mode === "raw") {
    for (const transport of TRANSPORTS) {
      let missed = 0, duplicates = 0, errors = 0, behind = 0;
      const latencies = [];
      for (const student of raw.roster) {
        const lane = student.lanes[transport];
        duplicates += lane.duplicates;
        errors += lane.errors;
        let laneMissed = 0;
        for (let seq = firstSeq; seq <= lastSeq; seq++) {
          const latency = lane.seqs.get(seq);
          if (latency === undefined) laneMissed++;
          else latencies.push(latency / 1000);
        }
        missed += laneMissed;
        if (laneMissed > 0) behind++;
      }
      latencies.sort((a, b) => a - b);
      result.lanes[transport] = {
        missed, duplicates, errors, lanesBehind: behind,
        latencyMs: { p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99), max: latencies.at(-1) },
      };
    }
    raw.stop.stopped = true;
    raw.stop.controller.abort();
    raw.stop.held.forEach((held) => held.abort());
    await Promise.race([Promise.allSettled(raw.roster.map((student) => student.done())), sleep(3000)]);
  } else {
    for (const transport of TRANSPORTS) result.lanes[transport] = { missed: 0, duplicates: 0, lanesBehind: 0, lastSeqMin: Infinity };
    for (const page of pages) {
      for (const transport of TRANSPORTS) {
        const read = (name) => page.locator(`[data-testid="lane-${transport}"] [data-testid="metric-${name}"]`).textContent();
        const lane = result.lanes[transport];
        lane.missed += Number(await read("missed"));
        lane.duplicates += Number(await read("duplicates"));
        const last = Number(await read("last-seq"));
        lane.lastSeqMin = Math.min(lane.lastSeqMin, last);
        if (last < lastSeq) lane.lanesBehind++;
      }
    }
    await browser.close();
  }
  console.log(JSON.stringify(result, null, 2));
  process.exit(0);
}

await main();
