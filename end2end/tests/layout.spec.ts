import { expect, Page, test } from "@playwright/test";
import { lane, LaneId, openKnobs, setGenerator, stats } from "./helpers";

// The page's shape: diagrams first on a projector, any set of lanes side by side on one axis while the others keep
// recording in the strip, a lane switcher on a phone, and a knobs drawer that opens on demand and stays as left.

test.beforeEach(async ({ request }) => {
  expect((await request.delete("/api/faults")).status()).toBe(204);
  await setGenerator(request, { rate_per_second: 2, payload_bytes: 0, paused: false });
});

/** How much of the window's height the shown diagrams cover, as a fraction: the union of their vertical extents. */
async function diagramCover(page: Page): Promise<number> {
  return page.evaluate(() => {
    const height = window.innerHeight;
    const spans = [...document.querySelectorAll("section.lane:not([hidden]) svg.sequence-diagram")]
      .map((svg) => svg.getBoundingClientRect())
      .filter((rect) => rect.width > 0)
      .map((rect) => [Math.max(0, rect.top), Math.min(height, rect.bottom)] as const)
      .filter(([top, bottom]) => bottom > top)
      .sort((a, b) => a[0] - b[0]);
    let covered = 0;
    let reached = 0;
    for (const [top, bottom] of spans) {
      covered += Math.max(0, bottom - Math.max(top, reached));
      reached = Math.max(reached, bottom);
    }
    return covered / height;
  });
}

/** Every lane there is: the server's list (its stats name each transport it serves), which the strip must match. */
async function everyLane(page: Page): Promise<LaneId[]> {
  const served = Object.keys((await stats(page.request)) as object).filter((key) => key !== "head_seq") as LaneId[];
  const chips = await page.locator('[data-testid^="chip-"]').evaluateAll((nodes) =>
    nodes.map((node) => node.getAttribute("data-lane")),
  );
  expect(chips.slice().sort()).toEqual(served.slice().sort());
  return chips as LaneId[];
}

/** Every lane there is, switched on (a tap where the page is touched, a click elsewhere), so each records. */
async function everyLaneOn(page: Page): Promise<LaneId[]> {
  const lanes = await everyLane(page);
  for (const id of lanes) {
    const toggle = page.getByTestId(`toggle-${id}`);
    if (await toggle.isChecked()) continue;
    if ((page.viewportSize()?.width ?? 1280) <= 600) await toggle.tap();
    else await toggle.check();
    await expect(toggle).toBeChecked();
  }
  return lanes;
}

/** Opens `path` and waits until the page has hydrated: a lane it shows has started. */
async function hydrated(page: Page, path = "/") {
  await page.goto(path);
  await expect(page.locator("section.lane:not([hidden])").first().getByTestId("lane-status")).not.toHaveText("off");
}

test.describe("a projector, 1280×720", () => {
  test.use({ viewport: { width: 1280, height: 720 } });

  test("the lab page is diagrams first: they cover at least 60% of the first screen", async ({ page }) => {
    await hydrated(page);
    await expect(page.locator("section.lane:not([hidden])")).toHaveCount(4);
    await expect.poll(() => diagramCover(page), { message: "share of the window's height" }).toBeGreaterThanOrEqual(0.6);
    // With the knobs drawer open beside them, the lanes narrow and the diagrams still cover as much.
    await openKnobs(page);
    await expect.poll(() => diagramCover(page)).toBeGreaterThanOrEqual(0.6);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(1280);
  });

  for (const lesson of ["all-four", "websocket", "short-polling"]) {
    test(`a lesson page (${lesson}) keeps the diagrams first, its steps beside them`, async ({ page }) => {
      await hydrated(page, `/learn/${lesson}`);
      await expect(page.getByTestId("lesson-text")).toBeVisible();
      await expect.poll(() => diagramCover(page)).toBeGreaterThanOrEqual(0.6);
      const text = (await page.getByTestId("lesson").boundingBox())!;
      const diagram = (await page.locator("section.lane:not([hidden]) svg.sequence-diagram").first().boundingBox())!;
      expect(diagram.x, "the steps stand beside the lanes, not above them").toBeGreaterThanOrEqual(text.x + text.width);
    });
  }

  test("beside a lesson's steps and two lanes, the knobs drawer takes a column of its own, covering no lane", async ({ page }) => {
    await hydrated(page, "/learn/mqtt-topics-and-qos");
    await expect(page.locator("section.lane:not([hidden])")).toHaveCount(2);
    await openKnobs(page);
    const drawer = (await page.getByTestId("knobs-drawer").boundingBox())!;
    for (const shown of await page.locator("section.lane:not([hidden])").all()) {
      const box = (await shown.boundingBox())!;
      expect(box.x + box.width, `${await shown.getAttribute("data-lane")} ends left of the drawer`).toBeLessThanOrEqual(drawer.x);
    }
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(1280);
  });

  test("the lane chooser shows any set of lanes side by side on one axis; the others keep recording in the strip", async ({ page }) => {
    test.setTimeout(120_000);
    await hydrated(page);
    const lanes = await everyLaneOn(page);
    const choose = async (chosen: LaneId[]) => {
      for (const id of lanes) {
        const button = page.getByTestId(`show-${id}`);
        const wanted = chosen.includes(id) ? "true" : "false";
        if ((await button.getAttribute("aria-pressed")) !== wanted) await button.click();
        await expect(button).toHaveAttribute("aria-pressed", wanted);
      }
      for (const id of lanes) {
        if (chosen.includes(id)) await expect(lane(page, id)).toBeVisible();
        else await expect(lane(page, id)).toBeHidden();
      }
      // Side by side, in page order, their diagrams starting at one height: the shared time axis.
      const boxes = [];
      for (const id of chosen) boxes.push((await lane(page, id).getByTestId("diagram").boundingBox())!);
      for (let index = 1; index < boxes.length; index++) {
        expect(boxes[index].x).toBeGreaterThan(boxes[index - 1].x);
        expect(boxes[index].y).toBeCloseTo(boxes[0].y, 0);
        expect(boxes[index].height).toBeCloseTo(boxes[0].height, 0);
      }
      const axis = (await page.locator(".lanes > svg.time-axis").boundingBox())!;
      expect(axis.x + axis.width).toBeLessThanOrEqual(boxes[0].x);
    };
    // Every lane alone, every lane together, and two mixed sets.
    for (const id of lanes) await choose([id]);
    await choose(lanes);
    await choose(lanes.filter((_, index) => index % 2 === 0));
    await choose(lanes.filter((_, index) => index % 3 !== 0));

    // A hidden lane keeps recording: its events count grows in the strip, and when shown again its diagram holds
    // the events it received while hidden.
    const hidden = lanes.find((_, index) => index % 3 === 0)!;
    const glance = page.getByTestId(`chip-${hidden}`).getByTestId("glance");
    const count = async () => Number(/^(\d+) events?/.exec((await glance.textContent()) ?? "")?.[1] ?? NaN);
    const before = await count();
    await expect.poll(count, { timeout: 30_000, message: `${hidden} counts while hidden` }).toBeGreaterThan(before);
    const head = (await stats(page.request)).head_seq;
    await page.getByTestId(`show-${hidden}`).click();
    await expect(lane(page, hidden)).toBeVisible();
    expect(Number(await lane(page, hidden).getByTestId("metric-events").textContent())).toBeGreaterThan(before);
    await expect(lane(page, hidden).locator('[data-testid="record"][data-kind="event"]').first()).toBeVisible();
    expect(head).toBeGreaterThan(0);
  });

  test("the knobs drawer opens on demand, by button or k, and the page remembers it", async ({ page }) => {
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(error.message));
    // The drawer as the server renders it for this browser (its cookies go with the request).
    const drawerAsServed = async () => {
      const html = await (await page.request.get("/")).text();
      return html.match(/<aside[^>]*id="knobs-drawer"[^>]*>/)?.[0] ?? "no drawer in the page";
    };
    await hydrated(page);
    const drawer = page.getByTestId("knobs-drawer");
    await expect(drawer).toBeHidden();
    await openKnobs(page);
    await expect(page.getByTestId("generator-rate")).toBeVisible();
    await expect(page.getByTestId("knobs-open")).toHaveAttribute("aria-expanded", "true");
    // Every field inside it fits its width, and the own receiver's address has room for an address.
    const sticking = await drawer.evaluate((aside) => {
      const right = aside.getBoundingClientRect().right;
      return [...aside.querySelectorAll("input, select, button")]
        .filter((field) => field.getBoundingClientRect().width > 0 && field.getBoundingClientRect().right > right + 0.5)
        .map((field) => field.getAttribute("data-testid") ?? field.outerHTML.slice(0, 60));
    });
    expect(sticking).toEqual([]);
    expect((await page.getByTestId("own-receiver-url").boundingBox())!.width).toBeGreaterThanOrEqual(180);
    // Left open, it is open in the server's HTML too, so the lanes do not narrow once the page has loaded; the
    // browser hydrates that HTML as it is, the drawer's controls live (no hydration error, no stopped code).
    expect(await drawerAsServed()).not.toContain("hidden");
    await page.reload();
    await hydrated(page);
    await expect(drawer).toBeVisible();
    await expect(page.getByTestId("generator-rate")).toBeVisible();
    await page.keyboard.press("k");
    await expect(drawer).toBeHidden();
    expect(await drawerAsServed()).toContain("hidden");
    await page.reload();
    await hydrated(page);
    await page.waitForTimeout(500);
    await expect(drawer).toBeHidden();
    await expect(page.getByTestId("code-failed")).toBeHidden();
    expect(errors).toEqual([]);
  });
});

test.describe("a phone, 390×844 with touch", () => {
  test.use({ viewport: { width: 390, height: 844 }, hasTouch: true, isMobile: true });

  test("the lane switcher brings each lane into view, where it draws live, and the page never scrolls sideways", async ({ page }) => {
    test.setTimeout(90_000);
    await hydrated(page);
    // One lane switched on at a time: all eight at once are more connections than a browser gives one server.
    const lanes = await everyLane(page);
    for (const id of lanes) {
      const toggle = page.getByTestId(`toggle-${id}`);
      const wasOn = await toggle.isChecked();
      if (!wasOn) await toggle.tap();
      await page.getByTestId(`show-${id}`).tap();
      await expect(page.getByTestId(`show-${id}`)).toHaveAttribute("aria-pressed", "true");
      const shown = lane(page, id);
      // In view: the lane's left edge just right of the axis, the whole lane on screen.
      await expect
        .poll(async () => {
          const box = (await shown.boundingBox())!;
          return box.x >= 0 && box.x + box.width <= 390;
        }, { message: `${id} in view` })
        .toBe(true);
      const drawn = shown.locator('[data-testid="record"]');
      const before = await drawn.count();
      await expect.poll(() => drawn.count(), { timeout: 20_000, message: `${id} draws live` }).toBeGreaterThan(before);
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
      if (!wasOn) await toggle.tap();
    }
  });
});
