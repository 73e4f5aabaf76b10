import { expect, test, Page, APIRequestContext } from "@playwright/test";
import { HELD, lane, metric, openLab, setGenerator, TRANSPORTS, TransportId } from "./helpers";

// Classroom mode. Each browser context is one student's browser (its own connection pool, its own tabs); the
// presenter view is another. Everything runs against the one shared server, so each test first waits for the
// pages of earlier tests to leave the presence count (they count for 6 s after their last request).

type ClassPresence = {
  pages: number;
  transports: Record<TransportId, { pages: number; open_connections: number }>;
  join: { url: string; source: string };
};

async function presence(request: APIRequestContext): Promise<ClassPresence> {
  const response = await request.get("/api/class");
  expect(response.status()).toBe(200);
  return response.json();
}

async function emptyClass(request: APIRequestContext) {
  await expect.poll(async () => (await presence(request)).pages, { timeout: 20_000 }).toBe(0);
}

function presenterCount(presenter: Page, transport: TransportId) {
  return presenter.getByTestId(`class-count-${transport}`).getByTestId("count");
}

test.beforeEach(async ({ request }) => {
  expect((await request.delete("/api/faults")).status()).toBe(204);
  await setGenerator(request, { rate_per_second: 2, payload_bytes: 0, paused: false });
});

test("several browsers join a class, the presenter counts them per transport, and a broadcast reaches every lane", async ({ browser, request }) => {
  // Four browser contexts (a presenter and three students, each with every lane open) on the test machine's cores:
  // it ran to its last step at the 60 s default here, so it gets the slow-test allowance.
  test.slow();
  await emptyClass(request);
  const presenterContext = await browser.newContext({ viewport: { width: 1280, height: 720 } });
  const presenter = await presenterContext.newPage();
  await presenter.goto("/present");
  await expect(presenter.getByTestId("class-pages")).toHaveText("0");
  // The join link and its QR code, served by the lab.
  await expect(presenter.getByTestId("join-url")).toHaveText(/^http:\/\/[^ ]+\/$/);
  const qrLoaded = await presenter.getByTestId("join-qr").evaluate((image: HTMLImageElement) => image.decode().then(() => image.naturalWidth));
  expect(qrLoaded).toBeGreaterThan(100);
  await expect(presenter.getByTestId("class-poll-note")).toContainText("Polled from /api/class every second");
  // It fits a 1280×720 projector without scrolling.
  const size = await presenter.evaluate(() => ({ height: document.documentElement.scrollHeight, width: document.documentElement.scrollWidth }));
  expect(size.height).toBeLessThanOrEqual(720);
  expect(size.width).toBeLessThanOrEqual(1280);

  // Students join one by one; the presenter's counts follow, on every transport.
  const students = [];
  for (let joined = 1; joined <= 3; joined++) {
    const context = await browser.newContext();
    const page = await context.newPage();
    await openLab(page);
    students.push({ context, page });
    for (const transport of TRANSPORTS) {
      await expect(presenterCount(presenter, transport), `${transport} with ${joined} students`).toHaveText(String(joined));
    }
    await expect(presenter.getByTestId("class-pages")).toHaveText(String(joined));
  }

  // The teacher broadcasts from the presenter view; every lane of every student draws it. Each student points at
  // a diagram first, which holds the view still, so the arrow cannot scroll away while a busy machine checks.
  for (const { page } of students) {
    await lane(page, "sse").getByTestId("diagram").hover();
    await expect(page.getByTestId("view-state")).toHaveClass(/held/);
  }
  const text = `quiz ${Date.now() % 100000}`;
  await presenter.getByTestId("broadcast-input").fill(text);
  await presenter.getByTestId("broadcast-send").click();
  await expect(presenter.getByTestId("broadcast-result")).toHaveText(/sent as event #\d+/);
  const seq = Number((await presenter.getByTestId("broadcast-result").textContent())!.replace(/\D/g, ""));
  await Promise.all(
    students.flatMap(({ page }, index) =>
      TRANSPORTS.map(async (transport) => {
        const arrow = lane(page, transport).locator(`[data-testid="record"][data-kind="event"][data-seq="${seq}"]`);
        await expect(arrow, `student ${index}, ${transport}`).toBeAttached();
        // The arrow's label quotes the broadcast (its tooltip always has it; the drawn text is left out where it
        // would overlap a poll response's label), and its detail says it is one.
        const title = arrow.locator("title");
        await expect(title, `student ${index}, ${transport}`).toContainText(` · “${text}” — event #${seq} (broadcast)`);
        await expect(title, `student ${index}, ${transport}`).toContainText(`from the teacher: “${text}”`);
      }),
    ),
  );
  for (const { page } of students) {
    await expect(page.getByTestId("teacher-message-text")).toHaveText(text);
    for (const transport of TRANSPORTS) {
      expect(await metric(page, transport, "missed")).toBe("0");
    }
  }

  // A student leaves: the counts go down (streams at once, polls once their window has passed).
  await students.pop()!.context.close();
  for (const transport of TRANSPORTS) {
    await expect(presenterCount(presenter, transport), `${transport} after one left`).toHaveText("2");
  }
  await expect(presenter.getByTestId("class-pages")).toHaveText("2");

  // The generator's rate is on the presenter view and can be changed from it.
  await expect(presenter.getByTestId("present-rate")).toHaveText("2 events/s");
  await presenter.getByTestId("present-rate-5").click();
  await expect(presenter.getByTestId("present-rate")).toHaveText("5 events/s");
  expect((await (await request.get("/api/generator")).json()).rate_per_second).toBe(5);

  for (const { context } of students) await context.close();
  await presenterContext.close();
});

test("lab tabs of one browser share its 6 connections: a second tab pauses its held lanes, says why, and can take over", async ({ browser, request }) => {
  // Three whole lab tabs, each hydrating and drawing every lane, on the machine's two cores.
  test.slow();
  await emptyClass(request);
  // One context is one browser: its tabs share one pool of connections to the server.
  const context = await browser.newContext();
  const tabs: Page[] = [];
  for (let i = 0; i < 3; i++) {
    const page = await context.newPage();
    await openLab(page);
    tabs.push(page);
  }
  const [first, second, third] = tabs;
  // The first holds its long poll, SSE stream and HTTP stream (3 of the 6); the others explain why they do not.
  await expect(lane(first, "sse").getByTestId("lane-status")).toHaveText("open");
  await expect(first.getByTestId("tab-limit")).toHaveCount(0);
  for (const page of [second, third]) {
    await expect(page.getByTestId("tab-limit")).toContainText("at most 6 HTTP/1.1 connections to one server");
    await expect(page.getByTestId("tab-limit")).toContainText("1 other lab tab of this browser already holds theirs");
    for (const transport of HELD) {
      await expect(lane(page, transport).getByTestId("lane-status")).toContainText("paused");
    }
  }
  await expect.poll(async () => (await presence(request)).transports.sse.pages).toBe(1);

  // Nothing stalls: every tab's short polls keep being answered, and the paused tabs' other lanes keep drawing.
  const requestsBefore = await Promise.all(tabs.map((page) => metric(page, "short_poll", "requests")));
  const thirdWebSocket = Number(await metric(third, "web_socket", "last-seq"));
  for (const [index, page] of tabs.entries()) {
    await expect.poll(async () => Number(await metric(page, "short_poll", "requests")), { message: `tab ${index}` }).toBeGreaterThan(Number(requestsBefore[index]) + 2);
    await expect(lane(page, "short_poll").getByTestId("lane-status")).not.toContainText("no answer");
  }
  await expect.poll(async () => Number(await metric(third, "web_socket", "last-seq"))).toBeGreaterThan(thirdWebSocket);

  // Taking over: the third tab runs its held lanes; the tab that held them pauses and says who took them.
  await third.getByTestId("tab-take-over").click();
  await expect(third.getByTestId("tab-limit")).toHaveCount(0);
  await expect(lane(third, "sse").getByTestId("lane-status")).toHaveText("open");
  await expect(lane(third, "http_stream").getByTestId("lane-status")).toHaveText("open");
  await expect(first.getByTestId("tab-limit")).toContainText("Another lab tab of this browser took over");
  await expect(lane(first, "sse").getByTestId("lane-status")).toContainText("paused");
  await expect(lane(second, "sse").getByTestId("lane-status")).toContainText("paused");
  await expect.poll(async () => (await presence(request)).transports.sse.pages).toBe(1);

  // The holding tab closes: the tab waiting longest resumes by itself, and catches up with nothing missed.
  await third.close();
  await expect(first.getByTestId("tab-limit")).toHaveCount(0, { timeout: 15_000 });
  await expect(lane(first, "sse").getByTestId("lane-status")).toHaveText("open");
  await expect(lane(second, "sse").getByTestId("lane-status")).toContainText("paused");
  const head = (await (await request.get("/api/stats")).json()).head_seq;
  for (const transport of HELD) {
    await expect.poll(async () => Number(await metric(first, transport, "last-seq"))).toBeGreaterThanOrEqual(head);
    expect(await metric(first, transport, "missed")).toBe("0");
  }
  await context.close();
});

test("a request queued behind the browser's connection limit says so instead of stalling silently", async ({ browser, request }) => {
  // No events: the lab tab's long poll stays held, so the pool stays full while the short poll waits.
  await setGenerator(request, { paused: true });
  const context = await browser.newContext();
  const lab = await context.newPage();
  await openLab(lab);
  await expect(lane(lab, "sse").getByTestId("lane-status")).toHaveText("open");
  await expect(lane(lab, "long_poll").getByTestId("lane-status")).toHaveText("open");
  await expect(lane(lab, "http_stream").getByTestId("lane-status")).toHaveText("open");
  // Another page of this browser that is not a lab tab (so it does not take part in sharing) holds the other 3.
  const hog = await context.newPage();
  await hog.goto("/scale");
  await hog.evaluate(() => {
    (window as unknown as { sources: EventSource[] }).sources = Array.from({ length: 3 }, () => new EventSource("/api/sse"));
  });
  await expect(lane(lab, "short_poll").getByTestId("lane-status")).toContainText("waiting for a free connection?", { timeout: 20_000 });
  await expect(lane(lab, "short_poll").getByTestId("lane-status")).toHaveAttribute("title", /browsers allow 6 connections per server/);
  await expect(lane(lab, "short_poll").locator('[data-testid="record"][data-kind="warning"]').filter({ hasText: "no answer after 3 s" }).first()).toBeAttached();
  // Freed, it goes on.
  await hog.evaluate(() => (window as unknown as { sources: EventSource[] }).sources.forEach((source) => source.close()));
  await expect(lane(lab, "short_poll").getByTestId("lane-status")).not.toContainText("no answer", { timeout: 15_000 });
  await context.close();
});
