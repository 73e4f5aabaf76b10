import { gzipSync } from "node:zlib";
import { expect, test } from "@playwright/test";
import { lane, openLab } from "./helpers";

// The lab page's first download: every script and wasm file under /pkg/ that a cold load of / fetches before its
// lanes draw and the page settles, each measured as the bytes the server sends, gzip-compressed at level 9 (Node's
// zlib; GNU `gzip -9` comes out within 1 %). The parts a first visit does not show (the other pages, a lesson's
// panel, the knobs drawer, the inspector's detail, the replay, the exporters, the MQTT, gRPC-web and webhook lanes'
// drivers) are wasm chunks of their own, fetched when first used, and are not counted.
//
// The budget is 250 KB. The lab page is not there yet (docs/src/measurements.md says where it is and why);
// this ceiling holds the ground gained so far, and comes down as the page does.
const TARGET_BYTES = 250_000;
// Measured 666,622 B on 2026-12-04 with the chunks split out (about 1,030,000 B before); on 2026-12-05, 572,489 B
// with type-erased views (`always-erase-components`) and 531,471 B once the lanes that start switched off fetched
// their drivers when first switched on. Plus room for small changes.
const CEILING_BYTES = 560_000;

test("the lab page's first download of code stays under its ceiling", async ({ page, request }) => {
  const fetched = new Set<string>();
  page.on("request", (sent) => {
    const path = new URL(sent.url()).pathname;
    if (path.startsWith("/pkg/") && /\.(js|wasm)$/.test(path)) fetched.add(path);
  });
  await openLab(page);
  // Settled: no new code file asked for in the last second.
  let seen = -1;
  while (seen !== fetched.size) {
    seen = fetched.size;
    await page.waitForTimeout(1000);
  }

  const files = [];
  for (const path of [...fetched].sort()) {
    const response = await request.get(path);
    expect(response.status(), path).toBe(200);
    const body = await response.body();
    files.push({ path, bytes: body.length, gzip: gzipSync(body, { level: 9 }).length });
  }
  const total = files.reduce((sum, file) => sum + file.gzip, 0);
  const report = files.map((file) => `${file.path}: ${file.bytes} B, ${file.gzip} B gzip`).join("\n");
  test.info().annotations.push({ type: "lab page code", description: `${total} B gzip (target ${TARGET_BYTES})\n${report}` });
  console.log(`lab page code: ${total} B gzip in ${files.length} files (target ${TARGET_BYTES}, ceiling ${CEILING_BYTES})\n${report}`);

  expect(files.some((file) => file.path.endsWith(".wasm")), "the page loaded no wasm").toBe(true);
  expect(total, report).toBeLessThanOrEqual(CEILING_BYTES);
});

test("a part the first visit does not show is a chunk of its own, fetched when first used", async ({ page }) => {
  const fetched: string[] = [];
  page.on("request", (sent) => {
    const path = new URL(sent.url()).pathname;
    if (path.startsWith("/pkg/") && path.endsWith(".wasm")) fetched.push(path);
  });
  await openLab(page);
  await page.waitForTimeout(1000);
  const before = fetched.length;
  // The inspector's detail is one of them: clicking an arrow fetches it.
  await lane(page, "web_socket").getByTestId("diagram").hover();
  // Dispatched on the arrow itself: the diagram moves, and a click at a point could land on a neighbour.
  await lane(page, "web_socket").locator('[data-testid="record"][data-kind="event"]').last().dispatchEvent("click");
  await expect(page.getByTestId("inspector-bytes")).toBeVisible();
  expect(fetched.length, fetched.join("\n")).toBeGreaterThan(before);
});
