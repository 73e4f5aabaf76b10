import { expect, test } from "@playwright/test";
import { drawnSeqs, lane, metric, openLab, setGenerator, stats } from "./helpers";

// The gRPC-web lane: lab.v1.Events/Subscribe called from the page with fetch, each protobuf message behind its
// 5-byte prefix, read through a ReadableStream reader and decoded by the same Rust code as the server's framing.

test.beforeEach(async ({ request }) => {
  expect((await request.delete("/api/faults")).status()).toBe(204);
  await setGenerator(request, { rate_per_second: 4, payload_bytes: 0, paused: false });
});

async function switchOn(page: import("@playwright/test").Page) {
  await page.getByTestId("toggle-grpc").check();
  await expect(lane(page, "grpc").getByTestId("lane-status")).toHaveText("open", { timeout: 20_000 });
}

test("the gRPC-web lane draws prefixed protobuf messages with the same numbers as the SSE lane", async ({ page }) => {
  const errors = await openLab(page);
  await switchOn(page);
  await expect(lane(page, "grpc").locator("text", { hasText: "200 · application/grpc-web+proto" })).toBeAttached();
  let shared: number[] = [];
  await expect
    .poll(async () => {
      const [called, sse] = [await drawnSeqs(page, "grpc"), await drawnSeqs(page, "sse")];
      shared = called.filter((seq) => sse.includes(seq));
      return shared.length;
    }, { timeout: 20_000 })
    .toBeGreaterThanOrEqual(5);
  const called = await drawnSeqs(page, "grpc");
  expect(called).toEqual([...called].sort((a, b) => a - b));
  expect(new Set(called).size).toBe(called.length);
  expect(await metric(page, "grpc", "missed")).toBe("0");
  // Measured at the server's socket: a tick's protobuf, its 5-byte prefix and the chunk around it, against the
  // HTTP stream's JSON line for the same events.
  const perEvent = async (transport: "grpc" | "http_stream") => parseFloat(await metric(page, transport, "bytes-per-event"));
  // The lane joined at the present, so its call's heads are shared by only the events since: compare once they are
  // spread over enough of them, as the HTTP stream's are.
  await expect.poll(async () => Number(await metric(page, "grpc", "events")), { timeout: 30_000 }).toBeGreaterThanOrEqual(24);
  await expect.poll(() => perEvent("grpc"), { timeout: 20_000 }).toBeGreaterThan(0);
  await expect.poll(() => perEvent("http_stream"), { timeout: 20_000 }).toBeGreaterThan(0);
  expect(await perEvent("grpc")).toBeLessThan(await perEvent("http_stream"));
  expect(errors).toEqual([]);
});

test("switched on after the page has run a while, the gRPC-web lane starts from then, not from the page's start", async ({ page, request }) => {
  await openLab(page);
  const loaded = (await stats(request)).head_seq;
  await expect.poll(async () => (await stats(request)).head_seq, { timeout: 20_000 }).toBeGreaterThanOrEqual(loaded + 8);
  const before = (await stats(request)).head_seq;
  await switchOn(page);
  // Its call asks for what comes next; what the lanes that were on received meanwhile is not replayed to it (and
  // the time it was off is not counted as its latency).
  await expect(lane(page, "grpc").locator("text", { hasText: "Subscribe · from now" })).toBeAttached();
  await expect.poll(async () => (await drawnSeqs(page, "grpc")).length, { timeout: 20_000 }).toBeGreaterThan(0);
  expect(Math.min(...(await drawnSeqs(page, "grpc")))).toBeGreaterThanOrEqual(before);
  expect(await metric(page, "grpc", "missed")).toBe("0");
});

test("the inspector decodes a gRPC-web message: prefix, protobuf fields by tag and wire type, and hex", async ({ page }) => {
  await openLab(page);
  await switchOn(page);
  const event = lane(page, "grpc").locator('[data-testid="record"][data-kind="event"]');
  await expect(event.nth(2)).toBeAttached({ timeout: 20_000 });
  await lane(page, "grpc").getByTestId("diagram").hover();
  const seq = await event.nth(1).getAttribute("data-seq");
  expect(seq).toMatch(/^\d+$/);
  await lane(page, "grpc").locator(`[data-testid="record"][data-kind="event"][data-seq="${seq}"]`).first().dispatchEvent("click");
  await expect(page.getByTestId("inspector-bytes")).toContainText("B on the wire", { timeout: 15_000 });
  const message = page.locator('[data-testid="inspector-unit"][data-unit="grpc_message"]');
  await expect(message).toContainText("field 1 (seq) · varint · tag 0x08");
  await expect(message).toContainText("field 3 (tick)");
  await expect(message).toContainText("↳ field 1 (tick.n)");
  // The number in the decode is the arrow's own: the tap labelled the message by its seq.
  await expect(message).toContainText(`tag 0x08 → ${seq}`);
});

test("a server drop ends the call with a trailer frame, and the lane calls again from its cursor", async ({ page, request }) => {
  await openLab(page);
  await switchOn(page);
  await expect.poll(async () => Number(await metric(page, "grpc", "last-seq")), { timeout: 20_000 }).toBeGreaterThan(0);
  const callsBefore = (await stats(request)).grpc.requests;
  await lane(page, "grpc").getByTestId("drop").click();
  await expect(lane(page, "grpc").getByTestId("drop-outcome")).toContainText("dropped 1 connection");
  // The call ended with gRPC's status in the trailer frame: 14, UNAVAILABLE.
  await expect(lane(page, "grpc").locator("text", { hasText: "grpc-status 14" })).toBeAttached({ timeout: 20_000 });
  await expect.poll(async () => (await stats(request)).grpc.requests, { timeout: 20_000 }).toBeGreaterThan(callsBefore);
  const head = (await stats(request)).head_seq + 2;
  await expect.poll(async () => Number(await metric(page, "grpc", "last-seq")), { timeout: 20_000 }).toBeGreaterThanOrEqual(head);
  expect(await metric(page, "grpc", "missed")).toBe("0");
  expect(await metric(page, "grpc", "duplicates")).toBe("0");
});
