import { expect, Page, test } from "@playwright/test";
import { lane, openLab, setGenerator, TRANSPORTS } from "./helpers";

// Keyboard and display: themes, pause / step / slow motion, shortcuts, accessible diagrams, a projector's screen.

test.use({ viewport: { width: 1280, height: 720 }, colorScheme: "light" });

test.beforeEach(async ({ request }) => {
  expect((await request.delete("/api/faults")).status()).toBe(204);
  await setGenerator(request, { rate_per_second: 4, payload_bytes: 0, paused: false });
});

const background = (page: Page) => page.evaluate(() => getComputedStyle(document.documentElement).backgroundColor);

/** How far the lane's drawing is scrolled: the y of its `translate(0 y)`, which moves as the view's clock does. */
async function scroll(page: Page, transport: (typeof TRANSPORTS)[number]): Promise<number> {
  const transform = await lane(page, transport).locator('[data-testid="diagram"] > g[transform]').getAttribute("transform");
  const match = /translate\(0 (-?[\d.]+)\)/.exec(transform ?? "");
  expect(match, `transform was ${transform}`).not.toBeNull();
  return Number(match![1]);
}

/** Two lanes' scroll offsets, read in one turn of the page's event loop so no redraw falls between them. */
async function scrollOfBoth(page: Page, a: (typeof TRANSPORTS)[number], b: (typeof TRANSPORTS)[number]): Promise<[number, number]> {
  const transforms = await page.evaluate(
    (ids) =>
      ids.map(
        (id) => document.querySelector(`[data-testid="lane-${id}"] [data-testid="diagram"] > g[transform]`)?.getAttribute("transform") ?? "",
      ),
    [a, b],
  );
  const offsets = transforms.map((transform) => Number(/translate\(0 (-?[\d.]+)\)/.exec(transform)?.[1]));
  expect(offsets.every((offset) => Number.isFinite(offset)), `transforms were ${transforms}`).toBe(true);
  return [offsets[0], offsets[1]];
}

async function eventsReceived(page: Page, transport: (typeof TRANSPORTS)[number]): Promise<number> {
  return Number(await lane(page, transport).getByTestId("metric-events").textContent());
}

test("the theme toggle changes the colours, and the choice survives a reload", async ({ page }) => {
  const errors = await openLab(page);
  const toggle = page.getByTestId("theme-toggle");
  await expect(toggle).toHaveAttribute("aria-pressed", "false");
  const light = await background(page);
  await toggle.click();
  await expect(toggle).toHaveAttribute("aria-pressed", "true");
  await expect(page.locator("html")).toHaveAttribute("data-theme", "dark");
  const dark = await background(page);
  expect(dark).not.toBe(light);

  await page.reload();
  // The server read the cookie and rendered the choice into the page itself: no script needed for the first paint.
  const html = await (await page.request.get("/")).text();
  expect(html).toMatch(/<html[^>]*data-theme="dark"/);
  await expect(page.getByTestId("theme-toggle")).toHaveAttribute("aria-pressed", "true");
  expect(await background(page)).toBe(dark);

  // `t` switches back.
  await expect(lane(page, "sse").getByTestId("lane-status")).not.toHaveText("off");
  await page.keyboard.press("t");
  await expect(page.locator("html")).toHaveAttribute("data-theme", "light");
  expect(await background(page)).toBe(light);
  expect(errors).toEqual([]);
});

test("keys 1 to 5 toggle the lanes in page order, but not while typing", async ({ page }) => {
  const errors = await openLab(page);
  const checkbox = (index: number) => page.getByTestId(`toggle-${TRANSPORTS[index]}`);
  for (const [index, transport] of TRANSPORTS.entries()) {
    await page.keyboard.press(String(index + 1));
    await expect(checkbox(index)).not.toBeChecked();
    await expect(lane(page, transport)).toHaveClass(/\boff\b/);
    for (const other of TRANSPORTS.keys()) {
      if (other !== index) await expect(checkbox(other)).toBeChecked();
    }
    await page.keyboard.press(String(index + 1));
    await expect(checkbox(index)).toBeChecked();
  }

  const input = page.getByTestId("message-input");
  await input.click();
  await page.keyboard.type("1234 p s");
  await expect(input).toHaveValue("1234 p s");
  for (const index of TRANSPORTS.keys()) await expect(checkbox(index)).toBeChecked();
  await expect(page.getByTestId("view-state")).toHaveAttribute("data-mode", "live");
  // Ctrl+1 belongs to the browser.
  await input.blur();
  await page.keyboard.press("Control+1");
  await expect(checkbox(0)).toBeChecked();
  expect(errors).toEqual([]);
});

test("p pauses the view while traffic is still counted, and . steps it forward", async ({ page }) => {
  const errors = await openLab(page);
  await expect.poll(() => eventsReceived(page, "web_socket")).toBeGreaterThan(0);
  await page.keyboard.press("p");
  const state = page.getByTestId("view-state");
  await expect(state).toHaveAttribute("data-mode", "paused");
  await expect(state).toContainText("traffic is still recorded");
  await expect(page.getByTestId("view-pause")).toHaveText("Resume");
  // The sentence stands over the bottom of the window; the diagrams end above it, so the arrival a step shows
  // (drawn at their bottom edge) is not under it.
  const sentenceTop = async () => (await state.boundingBox())!.y;
  const diagramBottom = async () => {
    const box = (await lane(page, "sse").locator("svg.sequence-diagram").boundingBox())!;
    return box.y + box.height;
  };
  await expect.poll(async () => (await diagramBottom()) - (await sentenceTop())).toBeLessThanOrEqual(0);
  const frozen = await scroll(page, "sse");
  const countedAtPause = await eventsReceived(page, "web_socket");
  await page.waitForTimeout(1500);
  expect(await scroll(page, "sse")).toBe(frozen);
  expect(await scroll(page, "short_poll")).toBe(frozen);
  await expect.poll(() => eventsReceived(page, "web_socket")).toBeGreaterThan(countedAtPause);

  // Each step moves the view forward to the next arrival in some lane, the same in every lane. Two lanes can
  // receive an event a fraction of a millisecond apart, less than the transform's 0.01 px shows, so a single step
  // may not show in it; five steps over 1.5 s of traffic at 4 events/s do.
  let previous = frozen;
  for (let step = 0; step < 5; step++) {
    await page.keyboard.press(".");
    await expect(state).toContainText("Stepped to");
    // Both lanes read in one go: read one after the other, a later step's redraw could fall between the reads.
    const [now, other] = await scrollOfBoth(page, "sse", "web_socket");
    expect(now).toBeLessThanOrEqual(previous);
    expect(now).toBe(other);
    previous = now;
  }
  await expect.poll(() => scroll(page, "sse")).toBeLessThan(frozen);
  previous = await scroll(page, "sse");
  expect(await state.getAttribute("data-mode")).toBe("paused");

  // The button steps too, and p resumes live.
  await page.getByTestId("view-step").click();
  await page.keyboard.press("p");
  await expect(state).toHaveAttribute("data-mode", "live");
  await expect.poll(() => scroll(page, "sse")).toBeLessThan(previous - 40);
  expect(errors).toEqual([]);
});

test("slow motion runs at a quarter speed and says how far behind live it is", async ({ page }) => {
  const errors = await openLab(page);
  await page.keyboard.press("s");
  const state = page.getByTestId("view-state");
  await expect(state).toHaveAttribute("data-mode", "slow");
  await expect(page.getByTestId("view-slow")).toHaveAttribute("aria-pressed", "true");
  const start = await scroll(page, "sse");
  const started = Date.now();
  await expect(state).toHaveText(/slow motion — ¼ speed, [3-9] s behind live/i, { timeout: 10_000 });
  const moved = start - (await scroll(page, "sse"));
  const seconds = (Date.now() - started) / 1000;
  // 40 px per second of view time, a quarter of the wall clock's.
  expect(moved / 40).toBeGreaterThan(seconds * 0.25 * 0.7);
  expect(moved / 40).toBeLessThan(seconds * 0.25 * 1.3 + 0.2);

  await page.getByTestId("view-live").click();
  await expect(state).toHaveAttribute("data-mode", "live");
  await expect(state).toHaveText(/^Live/);
  expect(errors).toEqual([]);
});

test("? lists the shortcuts and Escape closes the list", async ({ page }) => {
  const errors = await openLab(page);
  const help = page.getByTestId("shortcuts-help");
  await expect(help).toBeHidden();
  await page.keyboard.press("?");
  await expect(help).toBeVisible();
  await expect(help).toContainText("slow motion");
  await page.keyboard.press("Escape");
  await expect(help).toBeHidden();
  await page.getByTestId("shortcuts-open").click();
  await expect(help).toBeVisible();
  await page.getByTestId("shortcuts-close").click();
  await expect(help).toBeHidden();
  expect(errors).toEqual([]);
});

test("every lane's diagram has a title and a live description, and a legend explains the marks", async ({ page }) => {
  const errors = await openLab(page);
  for (const transport of TRANSPORTS) {
    const diagram = lane(page, transport).getByTestId("diagram");
    await expect(diagram.locator(":scope > title")).not.toHaveText("");
    await expect(diagram.locator(":scope > desc")).toHaveText(/[1-9]\d* arrows? and \d+ notes? in view/);
  }
  const legend = page.getByTestId("diagram-legend");
  await expect(legend).toBeVisible();
  for (const kind of ["request", "response", "event", "lost", "error"]) await expect(legend).toContainText(kind);
  for (const id of ["view-pause", "view-step", "view-slow", "view-live", "theme-toggle", "shortcuts-open"]) {
    expect(await page.getByTestId(id).textContent(), id).not.toBe("");
  }
  expect(errors).toEqual([]);
});
