import { expect, test } from "@playwright/test";
import { drawnSeqs, lane, metric, openLab, setGenerator, stats } from "./helpers";

// The HTTP streaming lane: one fetch whose response never ends, a JSON line per event, read in the browser through
// a ReadableStream reader and, for the peer check, by Node's own fetch with no browser at all.

test.beforeEach(async ({ request }) => {
  expect((await request.delete("/api/faults")).status()).toBe(204);
  await setGenerator(request, { rate_per_second: 4, payload_bytes: 0, paused: false });
});

test("the HTTP stream lane draws events with the same sequence numbers as the SSE lane", async ({ page }) => {
  const errors = await openLab(page);
  await expect(lane(page, "http_stream").getByTestId("lane-status")).toHaveText("open");
  await expect(lane(page, "http_stream").locator("text", { hasText: "200 · application/x-ndjson" })).toBeAttached();
  let shared: number[] = [];
  await expect
    .poll(async () => {
      const [streamed, sse] = [await drawnSeqs(page, "http_stream"), await drawnSeqs(page, "sse")];
      shared = streamed.filter((seq) => sse.includes(seq));
      return shared.length;
    })
    .toBeGreaterThanOrEqual(5);
  // In order, none twice, none lost.
  const streamed = await drawnSeqs(page, "http_stream");
  expect(streamed).toEqual([...streamed].sort((a, b) => a - b));
  expect(new Set(streamed).size).toBe(streamed.length);
  expect(await metric(page, "http_stream", "missed")).toBe("0");
  expect(errors).toEqual([]);
});

test("a server drop: the lane fetches again with after= and misses nothing", async ({ page, request }) => {
  await openLab(page);
  await expect.poll(async () => (await stats(request)).http_stream.open_connections).toBeGreaterThan(0);
  await expect.poll(async () => Number(await metric(page, "http_stream", "last-seq"))).toBeGreaterThan(0);
  const requestsBefore = (await stats(request)).http_stream.requests;
  const streamRequests: string[] = [];
  page.on("request", (sent) => {
    if (new URL(sent.url()).pathname === "/api/stream") streamRequests.push(sent.url());
  });

  await lane(page, "http_stream").getByTestId("drop").click();
  await expect(lane(page, "http_stream").getByTestId("drop-outcome")).toContainText("dropped 1 connection");
  await expect.poll(async () => (await stats(request)).http_stream.requests).toBeGreaterThan(requestsBefore);
  // The hook, not the browser, reconnected: the new request names the cursor it resumes after.
  await expect.poll(() => streamRequests.length).toBeGreaterThan(0);
  expect(new URL(streamRequests[0]).searchParams.get("after")).toMatch(/^[1-9]\d*$/);

  const head = (await stats(request)).head_seq + 2;
  await expect.poll(async () => Number(await metric(page, "http_stream", "last-seq")), { timeout: 20_000 }).toBeGreaterThanOrEqual(head);
  expect(await metric(page, "http_stream", "missed")).toBe("0");
  expect(await metric(page, "http_stream", "duplicates")).toBe("0");
  await expect(lane(page, "http_stream").getByTestId("scoreboard")).toHaveText("0 / 0 / 0");
});

/** Complete lines out of a byte stream, whatever the chunk boundaries (as `protocol::ndjson::LineSplitter`). */
async function* lines(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let partial = "";
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    partial += decoder.decode(chunk, { stream: true });
    let end: number;
    while ((end = partial.indexOf("\n")) >= 0) {
      const line = partial.slice(0, end).trim();
      partial = partial.slice(end + 1);
      if (line) yield line;
    }
  }
}

test("a peer that is not a browser: Node's fetch reads /api/stream and gets the same sequence numbers as /api/poll", async ({ baseURL, request }) => {
  await setGenerator(request, { paused: true });
  const after = (await stats(request)).head_seq;
  const abort = new AbortController();
  const response = await fetch(`${baseURL}/api/stream?after=${after}`, { signal: abort.signal });
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type")).toBe("application/x-ndjson");
  for (const text of ["one", "two", "three"]) {
    expect((await request.post("/api/publish", { data: { text } })).status()).toBe(202);
  }
  const streamed: number[] = [];
  let hello: { epoch: string } | undefined;
  for await (const line of lines(response.body!)) {
    const message = JSON.parse(line);
    if (message.type === "hello") hello = message;
    if (message.type === "event") streamed.push(message.seq);
    if (streamed.length === 3) break;
  }
  abort.abort();
  const polled = await (await request.get(`/api/poll?after=${after}`)).json();
  expect(streamed).toEqual(polled.events.map((event: { seq: number }) => event.seq));
  expect(hello?.epoch).toBe(polled.epoch);
});
