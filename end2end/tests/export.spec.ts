import { expect, Locator, Page, test } from "@playwright/test";
import { execFileSync } from "node:child_process";
import { readFile } from "node:fs/promises";
// A HAR 1.2 validator nobody here wrote: npm's har-validator, over har-schema's JSON schema.
import { har as validateHar } from "har-validator";
import { lane, openLab, setGenerator, TRANSPORTS, TransportId } from "./helpers";

test.beforeEach(async ({ request }) => {
  expect((await request.delete("/api/faults")).status()).toBe(204);
  await setGenerator(request, { rate_per_second: 2, payload_bytes: 0, paused: false });
});

/** Every arrow and note a diagram draws, in drawing order: kind, sequence number, drawn label and full tooltip. */
async function drawn(scope: Locator): Promise<string[]> {
  return scope.locator('[data-testid="record"]').evaluateAll((nodes) =>
    nodes.map((node) =>
      [
        node.getAttribute("data-kind"),
        node.getAttribute("data-seq") ?? "",
        node.querySelector(":scope > text")?.textContent ?? "",
        node.querySelector(":scope > title")?.textContent ?? "",
      ].join(" | "),
    ),
  );
}

/** What each lane draws, live (`lane-…`) or replayed (`replay-lane-…`). */
async function diagram(page: Page, prefix: "lane" | "replay-lane"): Promise<Record<TransportId, string[]>> {
  const lanes = await Promise.all(TRANSPORTS.map((transport) => drawn(page.getByTestId(`${prefix}-${transport}`))));
  return Object.fromEntries(TRANSPORTS.map((transport, index) => [transport, lanes[index]])) as Record<TransportId, string[]>;
}

/** Lets every lane record a few events, then switches the lanes off so the diagram holds still to be compared. */
async function recordAndStop(page: Page) {
  const errors = await openLab(page);
  for (const transport of TRANSPORTS) {
    await expect
      .poll(async () => lane(page, transport).locator('[data-testid="record"][data-kind="event"]').count())
      .toBeGreaterThanOrEqual(2);
  }
  for (const transport of TRANSPORTS) {
    await page.getByTestId(`toggle-${transport}`).uncheck();
    await expect(lane(page, transport).getByTestId("lane-status")).toHaveText("off");
  }
  // Measured bytes reach the arrows from a side channel polled once a second: wait until nothing changes.
  let previous = "";
  await expect
    .poll(
      async () => {
        const now = JSON.stringify(await diagram(page, "lane"));
        const settled = now === previous;
        previous = now;
        return settled;
      },
      { intervals: [1200] },
    )
    .toBe(true);
  return errors;
}

async function download(page: Page, testId: string, scope: Page | Locator = page) {
  const [file] = await Promise.all([page.waitForEvent("download"), scope.getByTestId(testId).click()]);
  const path = await file.path();
  return { name: file.suggestedFilename(), path, bytes: await readFile(path) };
}

test("a trace exported as JSON and loaded after a reload replays the same diagram", async ({ page, request }) => {
  const errors = await recordAndStop(page);
  const before = await diagram(page, "lane");
  for (const transport of TRANSPORTS) {
    expect(before[transport].filter((arrow) => arrow.startsWith("event")).length).toBeGreaterThanOrEqual(2);
  }

  const trace = await download(page, "export-trace");
  expect(trace.name).toMatch(/^transport-lab-trace-[\d-]+\.json$/);
  const json = JSON.parse(trace.bytes.toString("utf8"));
  expect([json.format, json.version]).toEqual(["transport-lab-trace", 3]);
  expect(json.lanes.map((lane: { transport: string }) => lane.transport)).toEqual([...TRANSPORTS, "webhook", "mqtt", "grpc"]);
  expect(json.settings.generator).toEqual({ rate_per_second: 2, payload_bytes: 0, paused: false });
  expect(json.settings.poll_interval_ms).toBe(1000);
  await expect(page.getByTestId("export-status")).toContainText("saved a trace of");
  expect(await diagram(page, "lane")).toEqual(before);

  // A fresh page: nothing of the recording is left in it but the file.
  await page.reload();
  for (const transport of TRANSPORTS) {
    await expect(lane(page, transport).getByTestId("lane-status")).not.toHaveText("off");
  }
  // Chosen under the name it was saved as (Playwright keeps downloads under random names).
  await page.getByTestId("trace-file").setInputFiles({ name: trace.name, mimeType: "application/json", buffer: trace.bytes });
  await expect(page.getByTestId("replay-banner")).toContainText(`Replaying ${trace.name} — not live.`);
  await expect(page.getByTestId("replay-summary")).toContainText("generator 2 events/s, 0 B payload");
  // The live lanes are gone from the page and switched off, so nothing live can pass for the replay.
  await expect(page.getByTestId("lanes")).toHaveCount(0);
  for (const transport of TRANSPORTS) {
    await expect(page.getByTestId(`toggle-${transport}`)).not.toBeChecked();
    await expect(page.getByTestId(`replay-lane-${transport}`).getByTestId("lane-status")).toContainText("replay");
  }
  // A lane that was off the whole time (MQTT starts off) recorded nothing and is not drawn at all.
  await expect(page.getByTestId("replay-lane-mqtt")).toHaveCount(0);
  await expect(page.getByTestId("replay-summary")).toContainText(`from ${TRANSPORTS.length} lanes`);
  await expect.poll(async () => (await request.get("/api/stats").then((r) => r.json())).transports.web_socket.open_connections).toBe(0);

  await page.getByTestId("replay-speed").selectOption("all");
  await expect(page.getByTestId("replay-position")).toContainText("finished");
  expect(await diagram(page, "replay-lane")).toEqual(before);

  // Back to live: the lanes return, switched on as they were before the replay, and shown as they were (HTTP
  // streaming is on but not shown on a fresh page; coming back on after a replay does not show it).
  await page.getByTestId("replay-exit").click();
  await expect(page.getByTestId("replay")).toHaveCount(0);
  for (const transport of TRANSPORTS) {
    await expect(page.getByTestId(`toggle-${transport}`)).toBeChecked();
    await expect(lane(page, transport).locator('[data-testid="record"][data-kind="event"]').first()).toBeAttached();
  }
  await expect(page.getByTestId("show-http_stream")).toHaveAttribute("aria-pressed", "false");
  await expect(page.getByTestId("show-web_socket")).toHaveAttribute("aria-pressed", "true");
  expect(errors).toEqual([]);
});

/**
 * A trace written by hand, as a teacher might trim one: one SSE lane that connects a second after `start` and then
 * gets an event every second from `start` + 3 s. A replay starts a second before the first record: at `start`.
 */
function handWrittenTrace(start: number, events: number) {
  const connect = { id: 0, kind: { type: "request" }, label: "GET /api/sse?after=0", sent_at: start + 1000, arrived_at: start + 1000 };
  const records = Array.from({ length: events }, (_, index) => ({
    id: index + 1,
    kind: { type: "event", seq: index + 1 },
    label: `id ${index + 1} · tick`,
    sent_at: start + 3000 + 1000 * index - 5,
    arrived_at: start + 3000 + 1000 * index,
  }));
  const end = start + 3000 + 1000 * events;
  return {
    format: "transport-lab-trace",
    version: 1,
    exported_at: end,
    view_at: end,
    origin: start,
    lanes: [{ transport: "sse", enabled: true, records: [connect, ...records] }],
  };
}

test("a replay runs on its own clock at the chosen speed, and pauses", async ({ page }) => {
  const errors = await openLab(page);
  const trace = handWrittenTrace(Date.now() - 3_600_000, 8);
  await page.getByTestId("trace-file").setInputFiles({
    name: "lesson.json",
    mimeType: "application/json",
    buffer: Buffer.from(JSON.stringify(trace)),
  });
  await expect(page.getByTestId("replay-banner")).toContainText("Replaying lesson.json — not live.");
  const events = page.getByTestId("replay-lane-sse").getByTestId("replay-events");
  // At 1× the first event arrives three seconds into the replay.
  await expect(events).toHaveText("0");
  await expect(page.getByTestId("replay-lane-sse").getByTestId("replay-requests")).toHaveText("1");
  await expect(events).toHaveText("1", { timeout: 5000 });
  await page.getByTestId("replay-pause").click();
  await expect(page.getByTestId("replay-position")).toContainText("paused");
  const paused = await events.textContent();
  await page.waitForTimeout(1500);
  await expect(events).toHaveText(paused ?? "");
  // 4×: the remaining seconds of recording take a quarter as long.
  await page.getByTestId("replay-speed").selectOption("4");
  await page.getByTestId("replay-pause").click();
  await expect(events).toHaveText("8", { timeout: 4000 });
  await expect(page.getByTestId("replay-position")).toContainText("finished");
  await expect(page.getByTestId("replay-lane-sse").locator('[data-testid="record"][data-kind="event"]')).toHaveCount(8);
  // Again from the start, slowed down.
  await page.getByTestId("replay-speed").selectOption("0.25");
  await page.getByTestId("replay-restart").click();
  await expect(events).toHaveText("0");
  await expect(page.getByTestId("replay-position")).toContainText("playing at 0.25×");
  expect(errors).toEqual([]);
});

test("a bad trace file is refused with the reason, and the lanes stay live", async ({ page }) => {
  const errors = await openLab(page);
  const cases = [
    { name: "notes.txt", body: "hello", reason: "notes.txt: this file is not JSON" },
    { name: "capture.har", body: JSON.stringify({ log: {} }), reason: 'not a Transport Lab trace: its "format" is missing' },
    {
      name: "future.json",
      body: JSON.stringify({ format: "transport-lab-trace", version: 4 }),
      reason: "this trace is version 4; this page reads versions 1 to 3",
    },
    {
      name: "pigeon.json",
      body: JSON.stringify({ ...handWrittenTrace(0, 1), lanes: [{ transport: "carrier_pigeon", enabled: true, records: [] }] }),
      reason: "pigeon.json: the trace is malformed: unknown variant `carrier_pigeon`, expected one of `short_poll`",
    },
  ];
  for (const { name, body, reason } of cases) {
    await page.getByTestId("trace-file").setInputFiles({ name, mimeType: "application/json", buffer: Buffer.from(body) });
    await expect(page.getByTestId("trace-error")).toContainText(reason);
    await expect(page.getByTestId("replay")).toHaveCount(0);
  }
  for (const transport of TRANSPORTS) {
    await expect(lane(page, transport).getByTestId("lane-status")).not.toHaveText("off");
  }
  expect(errors).toEqual([]);
});

test.describe("Mermaid", () => {
  // The page's Content-Security-Policy runs only its own scripts; this test adds Mermaid's to check the text.
  test.use({ bypassCSP: true });

  test("the exported Mermaid text is read by Mermaid's own parser", async ({ page, context }) => {
    await context.grantPermissions(["clipboard-read", "clipboard-write"]);
    await recordAndStop(page);
    const file = await download(page, "export-mermaid");
    expect(file.name).toMatch(/^transport-lab-diagram-[\d-]+\.mmd$/);
    const text = file.bytes.toString("utf8");
    expect(text.startsWith("sequenceDiagram\n")).toBe(true);
    expect(text).toContain("    box rgb(232, 240, 254) Short polling\n");
    // A WebSocket event: an open arrow from the lane's Server, its `#` written as Mermaid's entity code.
    expect(text).toMatch(/^ {4}web_socket_server-\)web_socket_browser: WS text #35;\d+ · \d+ B · latency /m);

    await page.getByTestId("export-mermaid-copy").click();
    await expect(page.getByTestId("export-status")).toContainText("copied");
    const copied = await page.evaluate(() => navigator.clipboard.readText());
    // The caption names the moment of export; everything after it is the same diagram.
    const body = (mermaid: string) => mermaid.split("\n").slice(2).join("\n");
    expect(body(copied)).toEqual(body(text));

    await page.addScriptTag({ path: require.resolve("mermaid/dist/mermaid.min.js") });
    const parse = (source: string) =>
      page.evaluate(async (source) => {
        const mermaid = (window as any).mermaid;
        mermaid.initialize({ startOnLoad: false });
        try {
          const result = await mermaid.parse(source);
          return { ok: true, type: result.diagramType };
        } catch (error) {
          return { ok: false, error: String(error) };
        }
      }, source);
    expect(await parse(text)).toEqual({ ok: true, type: "sequence" });
    // Negative controls: the parser does reject text that is not a diagram, and a raw `;` in a message (which is why
    // labels are escaped) breaks one.
    expect((await parse(text + "    short_poll_browser->>: no one to send to\n")).ok).toBe(false);
    expect((await parse(text + "    sse_server-)sse_browser: one; two\n")).ok).toBe(false);

    // Drawn by Mermaid, the escaped labels read as they do on the page.
    const label = await page
      .getByTestId("lane-web_socket")
      .locator('[data-testid="record"][data-kind="event"] > text')
      .first()
      .textContent();
    expect(label).toMatch(/^WS text #\d+ · \d+ B$/);
    const rendered = await page.evaluate(async (source) => {
      const { svg } = await (window as any).mermaid.render("exported-diagram", source);
      return new DOMParser().parseFromString(svg, "image/svg+xml").documentElement.textContent ?? "";
    }, text);
    expect(rendered).toContain(label!);
    expect(rendered).toContain("Server-Sent Events");
  });
});

test("the diagram downloads as a standalone SVG and as a PNG", async ({ page }) => {
  const errors = await openLab(page);
  await expect(lane(page, "web_socket").locator('[data-testid="record"][data-kind="event"]').first()).toBeAttached();

  const svg = await download(page, "export-svg");
  expect(svg.name).toMatch(/^transport-lab-diagram-[\d-]+\.svg$/);
  const text = svg.bytes.toString("utf8");
  expect(text.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
  for (const title of ["Transport Lab · live", "Short polling", "Long polling", "Server-Sent Events", "WebSocket"]) {
    expect(text).toContain(title);
  }
  // The picture is what the page shows: a lane not shown side by side (gRPC-web here) is not in it.
  await expect(page.getByTestId("show-grpc")).toHaveAttribute("aria-pressed", "false");
  expect(text).not.toContain("gRPC-web");
  // Styles are written in, so it looks right without the page's stylesheet; and it is well-formed XML.
  expect(text).toMatch(/<line [^>]*stroke="rgb\(/);
  const parsed = await page.evaluate((source) => {
    const doc = new DOMParser().parseFromString(source, "image/svg+xml");
    return { error: doc.querySelector("parsererror")?.textContent ?? null, width: doc.documentElement.getAttribute("width") };
  }, text);
  expect(parsed.error).toBeNull();

  const png = await download(page, "export-png");
  expect(png.name).toMatch(/^transport-lab-diagram-[\d-]+\.png$/);
  expect([...png.bytes.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  // IHDR: drawn at twice the picture's size.
  expect(png.bytes.readUInt32BE(16)).toBe(2 * Number(parsed.width));
  expect(png.bytes.length).toBeGreaterThan(10_000);
  expect(errors).toEqual([]);
});

test("pcapng: the page's own connections, which tshark decodes as its lanes' requests", async ({ page }) => {
  await openLab(page);
  for (const transport of TRANSPORTS) {
    await expect
      .poll(async () => lane(page, transport).locator('[data-testid="record"][data-kind="event"]').count())
      .toBeGreaterThanOrEqual(2);
  }
  const file = await download(page, "export-pcapng");
  expect(file.name).toMatch(/\.pcapng$/);
  // A pcapng file opens with its Section Header Block's type.
  expect(file.bytes.readUInt32LE(0)).toBe(0x0a0d0d0a);
  await expect(page.getByTestId("export-status")).toContainText("open it in Wireshark");
  const port = new URL(page.url()).port || "80";
  const uris = execFileSync("tshark", ["-r", file.path, "-d", `tcp.port==${port},http`, "-Y", "http.request", "-T", "fields", "-e", "http.request.uri"], {
    stdio: ["ignore", "pipe", "pipe"],
  })
    .toString()
    .split("\n");
  for (const path of ["/api/poll?", "/api/long-poll?", "/api/sse?", "/api/ws?"]) {
    expect(uris.some((uri) => uri.startsWith(path)), `${path} in ${uris.length} requests`).toBe(true);
  }
});

/** One measured record as `GET /api/wire` gives it. */
type ServerRecord = {
  exchange: number;
  direction: "to_server" | "to_client";
  unit: { kind: string; target?: string; connection?: number; opcode?: string };
  bytes: { head: number; framing: number; payload: number };
};

test("HAR: every lane's exchanges and WebSocket messages, valid HAR 1.2, with the sizes the server measured", async ({ page }) => {
  const errors = await recordAndStop(page);
  const file = await download(page, "export-har");
  expect(file.name).toMatch(/\.har$/);
  await expect(page.getByTestId("export-status")).toContainText("HTTP exchanges as HAR");
  const har = JSON.parse(file.bytes.toString("utf8"));
  await validateHar(har).catch((error: { errors?: unknown }) => {
    throw new Error(`not valid HAR 1.2: ${JSON.stringify(error.errors ?? error)}`);
  });
  expect(har.log.version).toBe("1.2");
  const entries: any[] = har.log.entries;
  for (const transport of TRANSPORTS) {
    expect(entries.some((entry) => entry._lane === transport), `${transport} entries`).toBe(true);
  }

  // The server's own record of the page's exchanges, asked for directly: the HAR's sizes must be the same.
  const client = new URL(entries.find((entry) => entry._lane === "short_poll").request.url).searchParams.get("client");
  const records: ServerRecord[] = [];
  for (let after = 0; ; ) {
    const wirePage = await (await page.request.get(`/api/wire?client=${client}&after=${after}`)).json();
    records.push(...wirePage.records);
    if (wirePage.records.length === 0 || wirePage.next === after) break;
    after = wirePage.next;
  }
  const exchanges = new Map<number, ServerRecord[]>();
  for (const record of records) exchanges.set(record.exchange, [...(exchanges.get(record.exchange) ?? []), record]);
  const measured = (entry: any) =>
    [...exchanges.values()].find((units) =>
      units.some(
        (unit) =>
          unit.unit.kind === "request" &&
          String(unit.unit.connection) === entry.connection &&
          entry.request.url.endsWith(unit.unit.target) &&
          unit.bytes.head === entry.request.headersSize,
      ),
    );
  let checked = 0;
  for (const entry of entries.filter((entry) => TRANSPORTS.includes(entry._lane))) {
    const units = measured(entry);
    expect(units, `${entry.request.url} on connection ${entry.connection}: ${entry.request.headersSize} B of head`).toBeDefined();
    const head = units!.find((unit) => unit.unit.kind === "response_head");
    if (head) expect(entry.response.headersSize).toBe(head.bytes.head);
    if (entry._resourceType === "websocket") {
      // Every received message is a text frame the server sent, in order, of exactly its payload's size. A frame
      // still on its way when the lane closed its socket crossed the wire too, but a closing WebSocket delivers no
      // more messages (WHATWG WebSockets), so the server's list may run a frame or two past the page's.
      const frames = units!.filter((unit) => unit.unit.kind === "frame" && unit.direction === "to_client" && unit.unit.opcode === "text");
      const received = entry._webSocketMessages.filter((message: any) => message.type === "receive" && message.opcode === 1);
      // Each frame by its size and the event it carries (the server's annotation; the message's own `seq`), so a
      // message lost from the middle cannot pass for one lost at the close.
      const seqOf = (text: string) => Number(/"seq":(\d+)/.exec(text)?.[1] ?? -1);
      const sent = frames.map((frame: any) => [frame.bytes.payload, frame.unit.seq ?? -1]);
      const got = received.map((message: any) => [Buffer.byteLength(message.data), seqOf(message.data)]);
      expect(sent.slice(0, received.length)).toEqual(got);
      expect(got.filter(([, seq]: number[]) => seq >= 0).length, "events among the messages").toBeGreaterThanOrEqual(3);
      expect(sent.length - received.length).toBeLessThanOrEqual(2);
      expect(received.length).toBeGreaterThanOrEqual(3);
    } else if (units!.some((unit) => unit.unit.kind === "body")) {
      const body = units!.filter((unit) => unit.unit.kind === "body" && unit.direction === "to_client");
      expect(entry.response.bodySize).toBe(body.reduce((sum, unit) => sum + unit.bytes.payload, 0));
      expect(Buffer.byteLength(entry.response.content.text ?? "")).toBe(entry.response.content.size);
    }
    checked += 1;
  }
  expect(checked).toBeGreaterThanOrEqual(8);

  // One lane alone.
  await page.getByTestId("har-lane").selectOption("sse");
  const sse = JSON.parse((await download(page, "export-har")).bytes.toString("utf8"));
  expect(new Set(sse.log.entries.map((entry: any) => entry._lane))).toEqual(new Set(["sse"]));
  const stream = sse.log.entries.find((entry: any) => entry.response.status === 200);
  expect(stream.response.content.mimeType).toContain("text/event-stream");
  expect(stream.response.content.text).toContain("data: {");
  expect(errors).toEqual([]);
});

test("a trace carries its capture: a replay exports pcapng and HAR like the live page", async ({ page }) => {
  await recordAndStop(page);
  const trace = await download(page, "export-trace");
  const json = JSON.parse(trace.bytes.toString("utf8"));
  expect(json.version).toBe(3);
  expect(Buffer.from(json.pcapng_base64, "base64").readUInt32LE(0)).toBe(0x0a0d0d0a);
  await page.getByTestId("trace-file").setInputFiles(trace.path);
  await expect(page.getByTestId("replay")).toBeVisible();
  const replay = page.getByTestId("replay");
  const pcapng = await download(page, "export-pcapng", replay);
  expect(pcapng.bytes.equals(Buffer.from(json.pcapng_base64, "base64"))).toBe(true);
  const har = JSON.parse((await download(page, "export-har", replay)).bytes.toString("utf8"));
  expect(har.log.entries.length).toBeGreaterThan(8);
  expect(har.log.pages[0].title).toContain("replay of");
  await expect(replay.getByTestId("export-status")).toContainText("HTTP exchanges as HAR");
});
