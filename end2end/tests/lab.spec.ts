import { expect, test } from "@playwright/test";
import { drawnSeqs, lane, metric, openKnobs, openLab, setGenerator, stats, TRANSPORTS, TransportId } from "./helpers";

test.beforeEach(async ({ request }) => {
  // Each test starts on a healthy network: no delay or offline fault left over from another.
  expect((await request.delete("/api/faults")).status()).toBe(204);
  await setGenerator(request, { rate_per_second: 2, payload_bytes: 0, paused: false });
});

test("the page hydrates and every lane draws arrows", async ({ page }) => {
  const errors = await openLab(page);
  for (const transport of TRANSPORTS) {
    await expect(lane(page, transport).locator('[data-testid="record"][data-kind="event"]').first()).toBeVisible();
    await expect(lane(page, transport).locator('[data-testid="record"][data-kind="request"]').first()).toBeAttached();
  }
  // The first arrows of the streaming lanes are their connection set-up.
  await expect(lane(page, "web_socket").locator("text", { hasText: "101 Switching Protocols" })).toBeAttached();
  await expect(lane(page, "sse").locator("text", { hasText: "200 · text/event-stream" })).toBeAttached();
  expect(errors).toEqual([]);
});

test("TCP connections: a request that opened one has a square, and short polls reuse kept-alive connections", async ({ page }) => {
  await openLab(page);
  await expect(page.getByTestId("diagram-legend")).toContainText("opens a TCP connection: square");
  const shortPoll = lane(page, "short_poll");
  // Each request's tooltip names its connection once the tap's record reached the page.
  const titles = async () =>
    shortPoll
      .locator('[data-testid="record"][data-kind="request"] > title')
      .evaluateAll((nodes) => nodes.map((node) => node.textContent ?? "").filter((text) => text.includes("TCP connection #")));
  await expect.poll(async () => (await titles()).length, { timeout: 20_000 }).toBeGreaterThanOrEqual(6);
  const named = await titles();
  const connections = new Set(named.map((text) => text.match(/TCP connection #(\d+)/)![1]));
  expect(connections.size, "six short polls, fewer connections: kept alive").toBeLessThan(named.length);
  expect(named.filter((text) => text.includes("kept alive, reused")).length).toBeGreaterThanOrEqual(named.length - connections.size);
  // The squares are exactly the requests whose tooltip says they opened their connection.
  const opened = await shortPoll
    .locator('[data-testid="record"][data-kind="request"]')
    .evaluateAll((nodes) =>
      nodes.map((node) => [
        node.querySelector(":scope > title")?.textContent?.includes("opened by this request") ?? false,
        node.querySelector(':scope > [data-testid="tcp-open"]') !== null,
      ]),
    );
  for (const [saysOpened, hasSquare] of opened) {
    expect(hasSquare).toBe(saysOpened);
  }
});

test("one sequence number shows up in every lane, and highlights in all of them", async ({ page, request }) => {
  // An event emitted 3 s after the page opened (2 a second): those before it can arrive in one instant (a
  // stream's catch-up), their arrows one line and their labels stacked, where a click on one lands on another.
  const before = (await stats(request)).head_seq;
  await openLab(page);
  let common: number | undefined;
  await expect
    .poll(async () => {
      const lanes = await Promise.all(TRANSPORTS.map((transport) => drawnSeqs(page, transport)));
      common = lanes[0].find((seq) => seq > before + 6 && lanes.every((seqs) => seqs.includes(seq)));
      return common;
    }, { timeout: 20_000 })
    .toBeDefined();
  const selector = `[data-testid="record"][data-kind="event"][data-seq="${common}"]`;
  // Pointing at a diagram holds the view still, so the arrow stays where it is clicked.
  await lane(page, "sse").getByTestId("diagram").hover();
  await expect(page.getByTestId("view-state")).toHaveClass(/held/);
  await lane(page, "sse").locator(selector).click();
  for (const transport of TRANSPORTS) {
    await expect(lane(page, transport).locator(selector)).toHaveClass(/highlighted/);
  }
  // Moving away lets the view catch up; the pinned event stays highlighted.
  await page.getByTestId("explainer").hover();
  await expect(page.getByTestId("view-state")).not.toHaveClass(/held/);
  await expect(lane(page, "web_socket").locator(selector)).toHaveClass(/highlighted/);
  for (const transport of TRANSPORTS) {
    expect(await metric(page, transport, "missed")).toBe("0");
    expect(await metric(page, transport, "duplicates")).toBe("0");
  }
});

test("a lane turned off stops its traffic, and on again resumes with no gap", async ({ page, request }) => {
  await openLab(page);
  await expect.poll(async () => (await stats(request)).web_socket.open_connections).toBeGreaterThan(0);
  await expect.poll(async () => (await stats(request)).sse.open_connections).toBeGreaterThan(0);

  // Short polling: its request counter stops moving while off.
  await page.getByTestId("toggle-short_poll").uncheck();
  await expect(lane(page, "short_poll").getByTestId("lane-status")).toHaveText("off");
  const frozen = (await stats(request)).short_poll.requests;
  await page.waitForTimeout(2500);
  expect((await stats(request)).short_poll.requests).toBe(frozen);

  // Streaming lanes: their connection closes at once.
  const before = await stats(request);
  await page.getByTestId("toggle-web_socket").uncheck();
  await page.getByTestId("toggle-sse").uncheck();
  await expect.poll(async () => (await stats(request)).web_socket.open_connections).toBe(before.web_socket.open_connections - 1);
  await expect.poll(async () => (await stats(request)).sse.open_connections).toBe(before.sse.open_connections - 1);

  // Events keep being produced while the lanes are off…
  const lastSeen = Number(await metric(page, "web_socket", "last-seq"));
  await expect.poll(async () => (await stats(request)).head_seq).toBeGreaterThan(lastSeen + 3);

  // …and on again, each lane catches up with every one of them.
  for (const transport of ["short_poll", "sse", "web_socket"] as const) {
    await page.getByTestId(`toggle-${transport}`).check();
  }
  const head = (await stats(request)).head_seq;
  for (const transport of ["short_poll", "sse", "web_socket"] as const) {
    await expect.poll(async () => Number(await metric(page, transport, "last-seq"))).toBeGreaterThanOrEqual(head);
    expect(await metric(page, transport, "missed")).toBe("0");
    expect(await metric(page, transport, "duplicates")).toBe("0");
    const seqs = await drawnSeqs(page, transport);
    for (let seq = lastSeen + 1; seq <= head; seq++) {
      expect(seqs, `${transport} lane lacks #${seq}`).toContain(seq);
    }
  }
});

const DROPS = [
  ...(["long_poll", "sse", "web_socket", "http_stream"] as const).map((transport) => ({ transport, button: "drop", by: "the server" })),
  ...TRANSPORTS.map((transport) => ({ transport, button: "browser-drop", by: "the browser" })),
];

for (const { transport, button, by } of DROPS) {
  test(`${transport}: a connection dropped by ${by} recovers with nothing missed, duplicated or reordered`, async ({ page, request }) => {
    await openLab(page);
    if (transport !== "short_poll") {
      await expect.poll(async () => (await stats(request))[transport].open_connections).toBeGreaterThan(0);
    }
    await expect(lane(page, transport).getByTestId("scoreboard")).toHaveText("no fault yet");
    const requestsBefore = (await stats(request))[transport].requests;
    const notesBefore = await lane(page, transport).locator('[data-kind="warning"], [data-kind="error"]').count();

    const outcome = button === "drop" ? "dropped 1 connection" : "the browser closed its connection";
    // A long poll is held only between an answer and the next event: a drop in the moment between two polls
    // rightly finds nothing held open ("nothing was held open"), so it is pressed again until it finds the poll.
    await expect(async () => {
      await lane(page, transport).getByTestId(button).click();
      await expect(lane(page, transport).getByTestId("drop-outcome")).toContainText(outcome, { timeout: 2_000 });
    }).toPass({ timeout: 15_000 });

    // The lane draws the failure, then reconnects (a new request reaches the server)…
    await expect.poll(async () => lane(page, transport).locator('[data-kind="warning"], [data-kind="error"]').count()).toBeGreaterThan(notesBefore);
    await expect.poll(async () => (await stats(request))[transport].requests).toBeGreaterThan(requestsBefore);
    // …and catches up with everything emitted meanwhile, each event exactly once and in order.
    const head = (await stats(request)).head_seq + 2;
    await expect.poll(async () => Number(await metric(page, transport, "last-seq")), { timeout: 20_000 }).toBeGreaterThanOrEqual(head);
    await expect(lane(page, transport).getByTestId("scoreboard")).toHaveText("0 / 0 / 0");
    expect(await metric(page, transport, "missed")).toBe("0");
    expect(await metric(page, transport, "duplicates")).toBe("0");
    expect(await metric(page, transport, "out-of-order")).toBe("0");
    // The outage was timed, from the failure to the next event received.
    expect(Number(await metric(page, transport, "recoveries"))).toBeGreaterThanOrEqual(1);
    expect(await metric(page, transport, "last-recovery")).toMatch(/^\d+\.\d ms$/);
  });
}

test("a drop from one page leaves another page's connections alone", async ({ page, browser, request }) => {
  const other = await (await browser.newContext()).newPage();
  await openLab(page);
  await openLab(other);
  await expect.poll(async () => (await stats(request)).sse.open_connections).toBe(2);
  await lane(page, "sse").getByTestId("drop").click();
  await expect(lane(page, "sse").getByTestId("drop-outcome")).toContainText("dropped 1 connection");
  await expect.poll(async () => Number(await metric(page, "sse", "recoveries")), { timeout: 20_000 }).toBe(1);
  // The browser's own reconnect is a request too: drawn and counted, with the bytes the server measured for it.
  expect(await metric(page, "sse", "requests")).toBe("2");
  const reconnect = lane(page, "sse").locator('[data-testid="record"][data-kind="request"]').filter({ hasText: "Last-Event-ID" });
  await expect(reconnect.locator("title")).toContainText(/Last-Event-ID[\s\S]*measured at the server's socket: head \d+ B/, { timeout: 15_000 });
  expect(await metric(other, "sse", "recoveries")).toBe("0");
  await expect(lane(other, "sse").getByTestId("scoreboard")).toHaveText("no fault yet");
  await other.context().close();
});

test("offline refuses a lane's requests for the seconds set, then it catches up", async ({ page, request }) => {
  await openLab(page);
  await openKnobs(page);
  await page.getByTestId("fault-offline-seconds").fill("2");
  await page.getByTestId("fault-offline-seconds").press("Enter");
  await expect.poll(async () => (await stats(request)).long_poll.open_connections).toBeGreaterThan(0);
  await lane(page, "long_poll").getByTestId("go-offline").click();
  await expect(lane(page, "long_poll").getByTestId("drop-outcome")).toContainText("offline 2 s");
  // The refusal is drawn with the server's own words, then the lane backs off and comes back.
  await expect(lane(page, "long_poll").locator("title", { hasText: "offline (fault injection)" }).first()).toBeAttached();
  const head = (await stats(request)).head_seq + 2;
  await expect.poll(async () => Number(await metric(page, "long_poll", "last-seq")), { timeout: 20_000 }).toBeGreaterThanOrEqual(head);
  await expect(lane(page, "long_poll").getByTestId("scoreboard")).toHaveText("0 / 0 / 0");
  const recovery = parseFloat(await metric(page, "long_poll", "last-recovery"));
  expect(recovery, "an outage of about 2 s").toBeGreaterThan(1500);
});

test("after a server restart every lane notices the new epoch and resyncs from #1", async ({ page, request }) => {
  await openLab(page);
  for (const transport of TRANSPORTS) {
    await expect.poll(async () => Number(await metric(page, transport, "last-seq"))).toBeGreaterThan(0);
  }
  await openKnobs(page);
  await page.getByTestId("restart-stream").click();
  await expect(page.getByTestId("fault-outcome")).toContainText("new epoch");
  for (const transport of TRANSPORTS) {
    await expect(lane(page, transport).locator("text", { hasText: "server restarted: new epoch" }).first()).toBeAttached({ timeout: 20_000 });
  }
  // Each lane then follows the new run from its first event, with nothing missed or duplicated.
  const head = (await stats(request)).head_seq + 2;
  for (const transport of TRANSPORTS) {
    await expect.poll(async () => Number(await metric(page, transport, "last-seq")), { timeout: 20_000 }).toBeGreaterThanOrEqual(head);
    expect(await metric(page, transport, "missed")).toBe("0");
    expect(await metric(page, transport, "duplicates")).toBe("0");
  }
});

test("an injected delivery delay shows up in every lane's measured latency", async ({ page, request }) => {
  await setGenerator(request, { rate_per_second: 5 });
  await openLab(page);
  try {
    await openKnobs(page);
    await page.getByTestId("fault-delay").fill("400");
    await page.getByTestId("fault-delay").press("Enter");
    await expect(page.getByTestId("fault-outcome")).toContainText("delayed 400 ms");
    for (const transport of ["long_poll", "sse", "web_socket"] as const) {
      await expect
        .poll(async () => parseFloat(await metric(page, transport, "latency-last")), { message: `${transport} latency` })
        .toBeGreaterThanOrEqual(400);
    }
  } finally {
    expect((await request.delete("/api/faults")).status()).toBe(204);
  }
  // Cleared: the 400 ms are gone (a bound from the fault itself, not from how quiet the machine is).
  for (const transport of ["sse", "web_socket"] as const) {
    await expect.poll(async () => parseFloat(await metric(page, transport, "latency-last"))).toBeLessThan(400);
  }
});

test("every lane's arrows carry bytes measured at the server, and bigger payloads move the figures", async ({ page, request }) => {
  await openLab(page);
  for (const transport of TRANSPORTS) {
    await expect(lane(page, transport).locator("title", { hasText: "measured at the server's socket" }).first()).toBeAttached({ timeout: 15_000 });
    await expect.poll(async () => Number((await metric(page, transport, "wire")).split(" / ")[0])).toBeGreaterThan(0);
  }
  await expect(page.getByTestId("side-channel")).toContainText(/[1-9]\d* requests/);
  // The request arrows' heads as the server read them: a streaming lane's connect arrow shows its bytes.
  await expect(lane(page, "sse").locator("text", { hasText: /GET \/api\/sse\?after=\d+ · \d+ B/ }).first()).toBeAttached();

  const perEvent = async () => parseFloat(await metric(page, "web_socket", "bytes-per-event"));
  const before = await perEvent();
  await setGenerator(request, { payload_bytes: 4000 });
  await expect.poll(perEvent, { timeout: 20_000 }).toBeGreaterThan(before + 1000);
});

test("the clock offset is measured, and on one machine it is about zero", async ({ page }) => {
  test.setTimeout(90_000);
  await openLab(page);
  // After the first burst of exchanges (the very first, during hydration, can be slow and lopsided).
  await expect
    .poll(async () => Number(((await page.getByTestId("clock-offset").textContent()) ?? "").match(/of (\d+) exchanges/)?.[1] ?? 0))
    .toBeGreaterThanOrEqual(8);
  const text = (await page.getByTestId("clock-offset").textContent()) ?? "";
  const [, offset, uncertainty] = text.match(/([+-]\d+\.\d) ms ± (\d+\.\d) ms/) ?? [];
  // One machine, one clock: the true offset is zero. What the estimator promises is a bound, so a right estimate
  // holds zero within its own uncertainty, however busy the machine (a fixed number of ms would fail a correct
  // estimate on a loaded one), and then corrects nothing.
  expect(Math.abs(parseFloat(offset)), text).toBeLessThanOrEqual(parseFloat(uncertainty));
  await expect(page.getByTestId("clock-offset")).toContainText("not corrected");
});

test("the metrics panel compares the lanes, moves with the knobs, resets and exports CSV", async ({ page, request }) => {
  await openLab(page);
  const cell = (row: string, column: number) => page.locator(`[data-testid="row-${row}"] td`).nth(column);
  // Columns in lane order: short polling, long polling, SSE, WebSocket, HTTP streaming, webhooks.
  await expect.poll(async () => Number(await cell("events", 3).textContent())).toBeGreaterThan(2);
  await expect.poll(async () => parseFloat((await cell("bytes_per_event", 3).textContent()) ?? "")).toBeGreaterThan(0);
  await expect(page.getByTestId("latency-chart-sse").locator("rect")).toHaveCount(11);
  const perEvent = async () => parseFloat((await cell("bytes_per_event", 3).textContent()) ?? "");
  await page.getByTestId("metrics-reset").click();
  await expect.poll(async () => Number(await cell("events", 3).textContent())).toBeLessThan(3);
  await setGenerator(request, { payload_bytes: 6000 });
  // The side channel runs a second behind the events, so the ratio lags a little below filler + JSON.
  await expect.poll(perEvent, { timeout: 20_000 }).toBeGreaterThan(4000);
  const href = (await page.getByTestId("metrics-csv").getAttribute("href")) ?? "";
  const text = decodeURIComponent(href.replace("data:text/csv;charset=utf-8,", ""));
  expect(text.split("\n")[0]).toBe("figure,short_poll,long_poll,sse,web_socket,http_stream,webhook,mqtt,grpc");
  expect(text).toContain("\nlatency_p99,");
});

test("clicking an arrow opens the inspector with what crossed the wire for it", async ({ page }) => {
  await openLab(page);
  const inspect = async (transport: TransportId, selector: string) => {
    await lane(page, transport).getByTestId("diagram").hover();
    // Dispatched on the arrow itself: arrows cross, and a click at its centre could land on a neighbour.
    await lane(page, transport).locator(selector).last().dispatchEvent("click");
    await expect(page.getByTestId("inspector")).toBeVisible();
    await expect(page.getByTestId("inspector-bytes")).toContainText("B on the wire", { timeout: 15_000 });
  };
  // A short poll's request: its head exactly as the server read it.
  await expect(lane(page, "short_poll").locator('[data-kind="request"]').nth(1)).toBeAttached();
  await inspect("short_poll", '[data-testid="record"][data-kind="request"]');
  await expect(page.locator('[data-testid="inspector-unit"][data-unit="request"] [data-testid="inspector-raw"]').first()).toContainText("GET /api/poll?after=");
  // A long poll's answer: its head, then its body.
  await inspect("long_poll", '[data-testid="record"][data-kind="response"]');
  await expect(page.locator('[data-testid="inspector-unit"][data-unit="response_head"]')).toContainText("HTTP/1.1 200 OK");
  await expect(page.locator('[data-testid="inspector-unit"][data-unit="body"]')).toBeAttached();
  // An SSE event: its chunk's text, line ends visible.
  await inspect("sse", '[data-testid="record"][data-kind="event"]');
  const chunk = page.locator('[data-testid="inspector-unit"][data-unit="chunk"]');
  await expect(chunk).toContainText("id: ");
  await expect(chunk).toContainText("data: {");
  await expect(chunk).toContainText("\\n");
  // A WebSocket event: its frame, decoded.
  await inspect("web_socket", '[data-testid="record"][data-kind="event"]');
  const frame = page.locator('[data-testid="inspector-unit"][data-unit="frame"]');
  await expect(frame).toContainText("FIN 1");
  await expect(frame).toContainText("opcode 0x1 (text)");
  await expect(frame).toContainText("MASK 0");
  await expect(page.getByTestId("inspector-event-json")).toContainText('"type":"event"');
  // The WebSocket's 101: the accept value recomputed from the key with this browser's own SHA-1.
  await inspect("web_socket", '[data-testid="record"][data-kind="response"]');
  await expect(page.getByTestId("accept-check")).toContainText("matches the server's ✓");
  await page.getByTestId("inspector-close").click();
  await expect(page.getByTestId("inspector")).toHaveCount(0);
  // Escape closes it too.
  await inspect("sse", '[data-testid="record"][data-kind="event"]');
  await page.keyboard.press("Escape");
  await expect(page.getByTestId("inspector")).toHaveCount(0);
});

test("a message is shown as text in every lane, never run as HTML", async ({ page, request }) => {
  await setGenerator(request, { paused: true });
  await openLab(page);
  const hostile = `<img src=x onerror="window.__injected=1"><b>bold</b>`;
  const response = await request.post("/api/publish", { data: { text: hostile } });
  expect(response.status()).toBe(202);
  const { seq } = await response.json();
  for (const transport of TRANSPORTS) {
    const arrow = lane(page, transport).locator(`[data-testid="record"][data-kind="event"][data-seq="${seq}"]`);
    await expect(arrow.locator("title")).toContainText(hostile);
  }
  expect(await page.locator("[data-testid=lanes] img, [data-testid=lanes] b").count()).toBe(0);
  expect(await page.evaluate(() => (window as unknown as { __injected?: number }).__injected)).toBeUndefined();
});

test("a message sent from the page reaches every lane", async ({ page, request }) => {
  await setGenerator(request, { paused: true });
  await openLab(page);
  await page.getByTestId("message-input").fill("hello from the test");
  await page.getByTestId("message-send").click();
  await expect(page.getByTestId("publish-result")).toHaveText(/sent as #\d+/);
  const seq = Number((await page.getByTestId("publish-result").textContent())!.replace(/\D/g, ""));
  for (const transport of TRANSPORTS) {
    await expect(lane(page, transport).locator(`[data-testid="record"][data-kind="event"][data-seq="${seq}"]`)).toBeAttached();
  }
});

test("an over-long message is refused with the server's reason", async ({ page, request }) => {
  await openLab(page);
  // The input caps typing at 1024 characters, but multi-byte text can still exceed 1024 bytes.
  await page.getByTestId("message-input").fill("é".repeat(600));
  await page.getByTestId("message-send").click();
  await expect(page.getByTestId("publish-result")).toContainText("at most 1024 bytes");
  expect((await stats(request)).head_seq).toBeGreaterThanOrEqual(0);
});

test("generator knobs change the server's generator", async ({ page, request }) => {
  await openLab(page);
  await openKnobs(page);
  await page.getByTestId("generator-rate").fill("5");
  await page.getByTestId("generator-rate").press("Enter");
  await expect.poll(async () => (await (await request.get("/api/generator")).json()).rate_per_second).toBe(5);
  await page.getByTestId("generator-pause").click();
  await expect(page.getByTestId("generator-pause")).toHaveText("Resume");
  await expect.poll(async () => (await (await request.get("/api/generator")).json()).paused).toBe(true);
  await page.getByTestId("generator-rate").fill("500");
  await page.getByTestId("generator-rate").press("Enter");
  await expect(page.getByTestId("generator-error")).toContainText("rate_per_second");
  // The refused value does not stay in the box as if it were the generator's: the box shows the server's again.
  await expect(page.getByTestId("generator-rate")).toHaveValue("5");
});

test.describe("with JavaScript disabled", () => {
  test.use({ javaScriptEnabled: false });

  test("the server-rendered page still explains itself", async ({ page }) => {
    await page.goto("/");
    await expect(page.getByRole("heading", { name: "Transport Lab" })).toBeVisible();
    await expect(page.getByTestId("noscript")).toBeVisible();
    await expect(page.getByTestId("explainer")).toContainText("Server-Sent Events");
    await expect(page.getByTestId("lane-web_socket")).toBeAttached();
  });
});
