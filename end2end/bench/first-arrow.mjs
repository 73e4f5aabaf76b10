// How long a learner waits for the lab page: from navigation to the first arrow drawn in any lane, in Debian's
// Chromium. A benchmark to report, not a pass/fail test. (The page's code size is tests/page_weight.spec.ts: it
// watches the requests, since the page clears its Resource Timing buffer for the clock.)
//
//   node end2end/bench/first-arrow.mjs [--url http://127.0.0.1:3000] [--loads 5]
//
// The server must already be running (./lab run). Each load is a fresh browser context (a cold cache); the
// generator runs at 20 events/s meanwhile, so the first event's arrow waits at most 50 ms for its event.
import { chromium } from "playwright-core";

const args = Object.fromEntries(
  process.argv.slice(2).reduce((pairs, arg, i, all) => (arg.startsWith("--") ? [...pairs, [arg.slice(2), all[i + 1]]] : pairs), []),
);
const url = args.url ?? "http://127.0.0.1:3000";
const loads = Number(args.loads ?? 5);

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const before = await (await fetch(`${url}/api/generator`)).json();
await fetch(`${url}/api/generator`, {
  method: "POST",
  headers: { "content-type": "application/json" },
  body: JSON.stringify({ rate_per_second: 20, paused: false }),
});

const results = [];
try {
  for (let i = 0; i < loads; i++) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 720 } });
    const page = await context.newPage();
    // Recorded by the page itself, the moment the element exists, on the navigation's own clock.
    await page.addInitScript(() => {
      const seen = {};
      new MutationObserver(() => {
        for (const [name, selector] of [
          ["any_arrow", ".lane svg [data-kind]"],
          ["event_arrow", '.lane svg [data-kind="event"]'],
        ]) {
          if (seen[name] === undefined && document.querySelector(selector)) seen[name] = performance.now();
        }
      }).observe(document, { childList: true, subtree: true });
      window.__firstArrow = seen;
    });
    await page.goto(url);
    await page.waitForSelector('.lane svg [data-kind="event"]', { timeout: 30_000 });
    const figures = await page.evaluate(() => {
      const navigation = performance.getEntriesByType("navigation")[0];
      return {
        html_ms: navigation.responseEnd,
        dom_content_loaded_ms: navigation.domContentLoadedEventEnd,
        ...window.__firstArrow,
      };
    });
    results.push(figures);
    await context.close();
  }
} finally {
  await fetch(`${url}/api/generator`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(before),
  });
  await browser.close();
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const summary = {
  loads,
  median_ms: Object.fromEntries(
    ["html_ms", "dom_content_loaded_ms", "any_arrow", "event_arrow"].map((name) => [name, Math.round(median(results.map((r) => r[name])))]),
  ),
};
console.log(JSON.stringify({ summary, results }, null, 2));
