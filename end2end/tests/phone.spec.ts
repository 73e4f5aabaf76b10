import { expect, test } from "@playwright/test";
import { lane, openLab, setGenerator } from "./helpers";

// A student's phone: 390×844, touch. The page never scrolls sideways; the lanes are a strip swiped one lane at a
// time beside a time axis that stays put; a tap pins an event in every lane, as a click does.
test.use({ viewport: { width: 390, height: 844 }, hasTouch: true, isMobile: true });

test.beforeEach(async ({ request }) => {
  expect((await request.delete("/api/faults")).status()).toBe(204);
  await setGenerator(request, { rate_per_second: 1, payload_bytes: 0, paused: false });
});

test("on a phone the page does not scroll sideways, lanes swipe one at a time, and a tap pins an event", async ({ page }) => {
  const errors = await openLab(page);
  expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
  const first = lane(page, "short_poll");
  await expect(first.locator('[data-testid="record"][data-kind="event"]').first()).toBeAttached();
  const shown = (await first.boundingBox())!;
  expect(shown.width, "a lane wide enough to read").toBeGreaterThanOrEqual(250);
  expect(shown.x + shown.width).toBeLessThanOrEqual(390);
  const axis = (await page.locator("svg.time-axis").boundingBox())!;
  expect(axis.x + axis.width).toBeLessThanOrEqual(shown.x + 1);

  // Swiped to the SSE lane: it fills the view, and the axis is still at the left edge.
  const sse = lane(page, "sse");
  await sse.scrollIntoViewIfNeeded();
  await expect.poll(async () => (await sse.boundingBox())!.x).toBeLessThan(120);
  const swiped = (await sse.boundingBox())!;
  expect(swiped.x + swiped.width).toBeLessThanOrEqual(390);
  expect((await page.locator("svg.time-axis").boundingBox())!.x).toBeCloseTo(axis.x, 0);
  expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
  // Left of the lane in view, from its header to its figures, no other lane shows: the axis hides the one swiped past.
  const peeking = await sse.evaluate((shownLane) => {
    const box = shownLane.getBoundingClientRect();
    const axisBox = document.querySelector("svg.time-axis")!.getBoundingClientRect();
    const points = [box.top + 20, box.top + box.height / 2, box.bottom - 20].flatMap((y) => [
      [axisBox.left + 10, y],
      [box.left - 3, y],
    ]);
    return points
      .map(([x, y]) => document.elementFromPoint(x, y)?.closest(".lane")?.getAttribute("data-testid"))
      .filter((found) => found && found !== shownLane.getAttribute("data-testid"));
  });
  expect(peeking).toEqual([]);

  // A tap on an event's arrow pins it: highlighted in this lane and in the others, and it stays so.
  // An arrow is drawn again, as a new element, when its bytes measured at the socket arrive, so the newest one may
  // be replaced between finding it and tapping it: the tap goes to the one before it, found again on each try. Its
  // middle comes from the DOM, not `boundingBox()`: an arrow the server saw cross in one instant is a flat line,
  // and its 10 px transparent stroke is what the finger hits.
  await expect.poll(async () => sse.locator('[data-testid="record"][data-kind="event"]').count()).toBeGreaterThan(1);
  const seq = await sse.locator('[data-testid="record"][data-kind="event"]').nth(-2).getAttribute("data-seq");
  await expect(async () => {
    const hit = await sse
      .locator(`[data-testid="record"][data-kind="event"][data-seq="${seq}"] line.hit`)
      .first()
      .evaluate((line) => {
        const box = line.getBoundingClientRect();
        return { x: box.x + box.width / 2, y: box.y + box.height / 2, attached: line.isConnected };
      });
    expect(hit.attached).toBe(true);
    await page.touchscreen.tap(hit.x, hit.y);
    await expect(sse.locator(`[data-testid="record"][data-seq="${seq}"]`).first()).toHaveClass(/highlighted/, { timeout: 2_000 });
  }).toPass();
  await expect(lane(page, "web_socket").locator(`[data-testid="record"][data-seq="${seq}"]`).first()).toHaveClass(/highlighted/);
  // Touch targets: every button and lane switch on the page at least 44 px tall.
  const short = await page.locator("button:visible, input.switch:visible").evaluateAll((buttons) =>
    buttons
      .filter((button) => button.getBoundingClientRect().height < 44)
      .map((button) => button.textContent || button.getAttribute("aria-label")),
  );
  expect(short).toEqual([]);
  expect(errors).toEqual([]);
});
