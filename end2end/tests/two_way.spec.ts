import { expect, Page, test, WebSocket } from "@playwright/test";
import { lane, metric, openKnobs, openLab, setGenerator, TRANSPORTS, TransportId } from "./helpers";

test.beforeEach(async ({ request }) => {
  expect((await request.delete("/api/faults")).status()).toBe(204);
  // Other events keep flowing, so each lane must pick its own message out by the seq the server gave it.
  await setGenerator(request, { rate_per_second: 2, payload_bytes: 0, paused: false });
});

/** What went up from the page: every POST /api/publish (by lane) and every frame sent on each WebSocket. */
function watchUpstream(page: Page) {
  const posts: string[] = [];
  const sockets: { socket: WebSocket; sent: string[] }[] = [];
  page.on("request", (request) => {
    if (request.method() === "POST" && new URL(request.url()).pathname === "/api/publish") {
      posts.push(new URL(request.url()).searchParams.get("lane") ?? "(none)");
    }
  });
  page.on("websocket", (socket) => {
    const entry = { socket, sent: [] as string[] };
    sockets.push(entry);
    socket.on("framesent", (frame) => entry.sent.push(String(frame.payload)));
  });
  return { posts, sockets };
}

const roundTripMs = async (page: Page, transport: TransportId) => parseFloat(await metric(page, transport, "round-trip-last"));

test("a round trip per lane: up the lane's own way, back down the same lane, timed and drawn", async ({ page }) => {
  const upstream = watchUpstream(page);
  const errors = await openLab(page);
  await expect(lane(page, "web_socket").getByTestId("lane-status")).toHaveText("open");
  await openKnobs(page);
  await page.getByTestId("poll-interval").selectOption("2000");
  // Click just after a short poll was answered, with the 2 s interval in force: its next poll is ~2 s away.
  const polls = async () => Number(await metric(page, "short_poll", "requests"));
  const afterFirst = (await polls()) + 1;
  await expect.poll(polls).toBeGreaterThanOrEqual(afterFirst);
  const afterInterval = (await polls()) + 1;
  await expect.poll(polls, { intervals: [20] }).toBeGreaterThanOrEqual(afterInterval);
  const socketsBefore = upstream.sockets.length;
  const webSocketRequests = await metric(page, "web_socket", "requests");

  await page.getByTestId("round-trip").click();

  for (const transport of TRANSPORTS) {
    await expect(lane(page, transport).getByTestId("metric-round-trip-last")).toHaveText(/^\d+\.\d ms$/);
    // The round trip is drawn from send to receipt and labelled with the time the figures show.
    const mark = lane(page, transport).locator('[data-testid="record"][data-kind="round-trip"]');
    await expect(mark).toHaveCount(1);
    await expect(mark.locator("text")).toHaveText(`round trip ${await metric(page, transport, "round-trip-last")}`);
    await expect(lane(page, transport).getByTestId("metric-round-trip-p50")).toHaveText(/^\d+\.\d ms$/);
  }

  // Polling, SSE and HTTP streaming have no way up of their own: a POST each, whose arrow gets its measured bytes
  // like any request.
  expect(upstream.posts.sort()).toEqual(["http_stream", "long_poll", "short_poll", "sse"]);
  for (const transport of ["short_poll", "long_poll", "sse", "http_stream"] as const) {
    const post = lane(page, transport).locator('[data-testid="record"][data-kind="request"]', { hasText: "POST /api/publish" });
    await expect(post).toHaveCount(1);
    // Its label may give way to a neighbour's; the tooltip always carries the bytes once the side channel has them.
    await expect(post.locator("title")).toContainText(/measured at the server's socket: head \d+ B · framing 0 B · payload \d+ B/, { timeout: 10_000 });
    await expect(lane(page, transport).locator('[data-kind="response"]', { hasText: /^202 · #\d+/ })).toHaveCount(1);
  }

  // The WebSocket went up as a frame on the socket it already had: no new socket, no HTTP request.
  expect(upstream.sockets.length).toBe(socketsBefore);
  const publishes = upstream.sockets.flatMap(({ sent }) => sent.filter((frame) => frame.includes('"type":"publish"')));
  expect(publishes).toEqual([JSON.stringify({ type: "publish", text: "round trip · WebSocket #1" })]);
  expect(await metric(page, "web_socket", "requests")).toBe(webSocketRequests);
  await expect(lane(page, "web_socket").locator('[data-kind="request"]', { hasText: "WS text publish" })).toHaveCount(1);
  await expect(lane(page, "web_socket").locator('[data-kind="response"]', { hasText: /^ack · #\d+/ })).toHaveCount(1);

  // Short polling's message waits for its next poll: that is the lesson.
  const shortPoll = await roundTripMs(page, "short_poll");
  const webSocket = await roundTripMs(page, "web_socket");
  expect(shortPoll, "waited for the next poll, ~2 s away").toBeGreaterThan(1000);
  expect(webSocket).toBeLessThan(shortPoll);
  expect(await roundTripMs(page, "sse")).toBeLessThan(shortPoll);
  expect(await roundTripMs(page, "long_poll")).toBeLessThan(shortPoll);
  expect(errors).toEqual([]);
});

test("a WebSocket lane whose socket is not open says so and does not POST instead", async ({ page }) => {
  const upstream = watchUpstream(page);
  const errors = await openLab(page);
  await openKnobs(page);
  await page.getByTestId("fault-offline-seconds").fill("5");
  await page.getByTestId("fault-offline-seconds").press("Enter");
  await lane(page, "web_socket").getByTestId("go-offline").click();
  await expect(lane(page, "web_socket").getByTestId("lane-status")).not.toHaveText("open");

  await page.getByTestId("round-trip").click();

  await expect(lane(page, "web_socket").locator('[data-kind="warning"]', { hasText: "round trip not sent: socket not open" })).toHaveCount(1);
  await expect(lane(page, "sse").getByTestId("metric-round-trip-last")).toHaveText(/^\d+\.\d ms$/);
  expect(upstream.posts).not.toContain("web_socket");
  expect(upstream.sockets.flatMap(({ sent }) => sent).filter((frame) => frame.includes("publish"))).toEqual([]);
  expect(await metric(page, "web_socket", "round-trip-last")).toBe("–");
  // The refused connection attempts are the fault's, not errors of the page's own making.
  expect(errors.filter((error) => !error.includes("WebSocket"))).toEqual([]);
});
