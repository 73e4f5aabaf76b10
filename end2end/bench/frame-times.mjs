// Measures how smoothly the lab draws: frame intervals (requestAnimationFrame), long tasks and DOM size, with all
// four lanes on, at a given event rate, in Debian's Chromium. A benchmark to report, not a pass/fail test.
//
//   node end2end/bench/frame-times.mjs [--url http://127.0.0.1:3000] [--rate 10] [--seconds 60]
//
// The server must already be running (./lab run). The generator rate is shared, so this changes it for everyone.
import { chromium } from "playwright-core";

const args = Object.fromEntries(
  process.argv.slice(2).reduce((pairs, arg, i, all) => (arg.startsWith("--") ? [...pairs, [arg.slice(2), all[i + 1]]] : pairs), []),
);
const url = args.url ?? "http://127.0.0.1:3000";
const rate = Number(args.rate ?? 10);
const seconds = Number(args.seconds ?? 60);

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
await page.request.post(`${url}/api/generator`, { data: { rate_per_second: rate, paused: false } });
await page.goto(url);
await page.waitForSelector('[data-testid="lane-web_socket"] [data-kind="event"]');

const sample = () =>
  page.evaluate(async (window_ms) => {
    const frames = [];
    let longTasks = 0;
    const observer = new PerformanceObserver((list) => (longTasks += list.getEntries().length));
    observer.observe({ type: "longtask" });
    await new Promise((done) => {
      let last = performance.now();
      const started = last;
      const step = (now) => {
        frames.push(now - last);
        last = now;
        if (now - started < window_ms) requestAnimationFrame(step);
        else done();
      };
      requestAnimationFrame(step);
    });
    observer.disconnect();
    frames.sort((a, b) => a - b);
    const at = (q) => frames[Math.min(frames.length - 1, Math.floor(q * frames.length))];
    return {
      frames: frames.length,
      p50_ms: at(0.5),
      p95_ms: at(0.95),
      p99_ms: at(0.99),
      max_ms: frames[frames.length - 1],
      long_tasks: longTasks,
      dom_nodes: document.getElementsByTagName("*").length,
      heap_mb: performance.memory ? performance.memory.usedJSHeapSize / 1e6 : null,
    };
  }, 10_000);

const rounds = [];
for (let elapsed = 0; elapsed < seconds; elapsed += 10) rounds.push({ at_s: elapsed + 10, ...(await sample()) });
const fmt = (v) => (typeof v === "number" ? (Number.isInteger(v) ? String(v) : v.toFixed(1)) : String(v));
console.log(`rate ${rate}/s, four lanes, ${url}`);
console.log(Object.keys(rounds[0]).join("\t"));
for (const round of rounds) console.log(Object.values(round).map(fmt).join("\t"));
await browser.close();
