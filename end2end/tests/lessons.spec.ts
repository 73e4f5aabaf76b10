import { expect, Locator, Page, test } from "@playwright/test";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { lane, setGenerator, TRANSPORTS, TransportId } from "./helpers";

// Every lesson file in the repository's lessons/ folder is walked, so a lesson added later is covered too.
const LESSON_IDS = readdirSync(join(__dirname, "..", "..", "lessons"))
  .filter((name) => name.endsWith(".toml"))
  .map((name) => name.replace(/\.toml$/, ""))
  .sort();

type Target = { testid: string; lane?: TransportId };
type Highlight = { lanes?: TransportId[]; kinds: string[] };
type Answer =
  | { type: "lane_with_most" | "lane_with_least"; metric: string }
  | { type: "number"; metric: string; lane: TransportId; within_percent: number };
type Lesson = {
  id: string;
  title: string;
  setup: { lanes: TransportId[]; poll_interval_ms?: number };
  steps: { title: string; highlight?: Highlight; point_at?: Target[] }[];
  try_this: { controls?: Target[]; answer: Answer };
};

/** The testid of each figure a lesson may ask about (the same table as `Metric::testid` in the app). */
const METRIC_TESTID: Record<string, string> = {
  events: "metric-events",
  requests: "metric-requests",
  empty_responses: "metric-empty",
  latency_last: "metric-latency-last",
  latency_p50: "metric-latency-p50",
  latency_max: "metric-latency-max",
  bytes_per_event: "metric-bytes-per-event",
  recoveries: "metric-recoveries",
  last_recovery_ms: "metric-last-recovery",
  lost_in_gaps: "metric-gaps",
  missed: "metric-missed",
  audio_bytes: "metric-audio-bytes",
  round_trip_ms: "metric-round-trip-last",
};

function locate(page: Page, target: Target): Locator {
  // As the page finds it: anywhere marked with the lane (the lane itself, or its knobs in the drawer).
  return target.lane ? page.locator(`[data-lane="${target.lane}"]`).getByTestId(target.testid) : page.getByTestId(target.testid);
}

/** A figure as a person reads it off the lane: the first number in its text, or null for "–". */
async function readFigure(page: Page, transport: TransportId, metric: string): Promise<number | null> {
  const text = (await lane(page, transport).getByTestId(METRIC_TESTID[metric]).first().textContent()) ?? "";
  const match = text.replace(/,/g, "").match(/-?\d+(\.\d+)?/);
  return match ? Number(match[0]) : null;
}

test.beforeEach(async ({ request }) => {
  expect((await request.delete("/api/faults")).status()).toBe(204);
  await setGenerator(request, { rate_per_second: 2, payload_bytes: 0, paused: false });
});

test("the lesson list links every lesson, in order", async ({ page, request }) => {
  const listed = await (await request.get("/api/lessons")).json();
  expect(listed.map((lesson: { id: string }) => lesson.id).sort()).toEqual(LESSON_IDS);
  await page.goto("/learn");
  const links = page.getByTestId("lesson-list").locator("a");
  await expect(links).toHaveCount(LESSON_IDS.length);
  expect(await links.evaluateAll((nodes) => nodes.map((node) => node.getAttribute("href")))).toEqual(
    listed.map((lesson: { id: string }) => `/learn/${lesson.id}`),
  );
});

test("an unknown lesson says so", async ({ page }) => {
  await page.goto("/learn/no-such-lesson");
  await expect(page.getByTestId("lesson-error")).toContainText("no lesson");
});

for (const id of LESSON_IDS) {
  test(`lesson ${id}: set-up, every step, and the question answered from the screen`, async ({ page, request }) => {
    test.setTimeout(120_000);
    const lesson: Lesson = await (await request.get(`/api/lessons/${id}`)).json();
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(error.message));
    page.on("console", (message) => {
      if (message.type() === "error") errors.push(message.text());
    });
    await page.goto(`/learn/${id}`);
    await expect(page.getByTestId("lesson-title")).toHaveText(lesson.title);

    // The set-up: exactly the lesson's lanes are on, and they connect.
    for (const transport of TRANSPORTS) {
      const on = lesson.setup.lanes.includes(transport);
      await expect(page.getByTestId(`toggle-${transport}`)).toBeChecked({ checked: on });
      const status = lane(page, transport).getByTestId("lane-status");
      if (on) await expect(status).not.toHaveText("off");
      else await expect(status).toHaveText("off");
    }
    // Setting up leaves the lanes that were already on alone: no needless reconnect.
    for (const transport of lesson.setup.lanes) {
      await expect.poll(async () => Number(await lane(page, transport).getByTestId("metric-events").textContent())).toBeGreaterThan(0);
      await expect(lane(page, transport).getByTestId("metric-recoveries")).toHaveText("0");
    }
    if (lesson.setup.poll_interval_ms) {
      await expect(page.getByTestId("poll-interval")).toHaveValue(String(lesson.setup.poll_interval_ms));
    }

    const total = lesson.steps.length + 1;
    await expect(page.getByTestId("lesson-back")).toBeDisabled();
    for (const [index, step] of lesson.steps.entries()) {
      await expect(page.getByTestId("lesson-step")).toHaveText(`Step ${index + 1} of ${total}: ${step.title}`);
      await expect(page.getByTestId("lesson-text")).not.toBeEmpty();
      await expect(page.getByTestId("lesson-watch")).not.toBeEmpty();
      const lanes = page.getByTestId("lanes");
      if (step.highlight) {
        await expect(lanes).toHaveClass(/lesson-focusing/);
        // Whatever is highlighted is of the step's kinds, in its lanes; whatever is not, is not.
        const highlight = step.highlight;
        const mismatches = () => lanes.locator('[data-testid="record"]').evaluateAll(
          (nodes, highlight) =>
            nodes
              .map((node) => {
                const laneId = node.closest('[data-testid^="lane-"]')?.getAttribute("data-testid")?.slice(5) ?? "";
                const kind = node.getAttribute("data-kind") ?? "";
                const shouldBe =
                  highlight.kinds.includes(kind) && (!highlight.lanes?.length || highlight.lanes.includes(laneId));
                return shouldBe === node.classList.contains("lesson-focus") ? null : `${laneId}/${kind}`;
              })
              .filter((mismatch) => mismatch !== null),
          highlight,
        );
        await expect.poll(mismatches).toEqual([]);
      } else {
        await expect(lanes).not.toHaveClass(/lesson-focusing/);
      }
      for (const target of step.point_at ?? []) {
        await expect(locate(page, target).first()).toHaveAttribute("data-lesson-pointer", "");
      }
      // The knobs drawer is open while the step points into it, and closed again by a later step that does not
      // (this page was loaded with it closed, so the lesson is what opened it).
      const pointsIntoDrawer = (await page.locator("#knobs-drawer [data-lesson-pointer]").count()) > 0;
      await expect(page.getByTestId("knobs-open")).toHaveAttribute("aria-expanded", String(pointsIntoDrawer));
      // The first step is left with the keyboard (n), the others with the button.
      if (index === 0) await page.keyboard.press("n");
      else await page.getByTestId("lesson-next").click();
      await expect(page.getByTestId("lesson-back")).toBeEnabled();
    }

    // Try this: do the task with the controls it names, then read the answer off the lanes.
    await expect(page.getByTestId("lesson-step")).toHaveText(`Step ${total} of ${total}: Try this`);
    await expect(page.getByTestId("lesson-next")).toBeDisabled();
    await expect(page.getByTestId("lesson-question")).not.toBeEmpty();
    const answer = lesson.try_this.answer;
    // A number the task changes (a recovery's duration) must be read after the task, not left over from before it.
    const before = answer.type === "number" ? await readFigure(page, answer.lane, answer.metric) : null;
    for (const control of lesson.try_this.controls ?? []) {
      const element = locate(page, control).first();
      await expect(element).toHaveAttribute("data-lesson-pointer", "");
      if (await element.evaluate((node) => node.tagName === "SELECT")) continue;
      await element.click();
    }
    const verdict = page.getByTestId("lesson-verdict");
    if (answer.type === "number") {
      await expect(lane(page, answer.lane).getByTestId(METRIC_TESTID[answer.metric]).first()).toHaveAttribute(
        "data-lesson-pointer",
        "",
      );
      await expect.poll(() => readFigure(page, answer.lane, answer.metric), { timeout: 30_000 }).not.toBeNull();
      if (lesson.try_this.controls?.length) {
        await expect.poll(() => readFigure(page, answer.lane, answer.metric), { timeout: 30_000 }).not.toBe(before);
      }
      const shown = (await readFigure(page, answer.lane, answer.metric))!;
      await page.getByTestId("lesson-answer-number").fill(String(Math.round(shown * 3 + 50)));
      await page.getByTestId("lesson-check").click();
      await expect(verdict).toHaveAttribute("data-verdict", "wrong");
      await page.getByTestId("lesson-answer-number").fill(String(shown));
      await page.getByTestId("lesson-check").click();
    } else {
      const lanes = lesson.setup.lanes;
      await expect
        .poll(async () => (await Promise.all(lanes.map((t) => readFigure(page, t, answer.metric)))).every((v) => v !== null), {
          timeout: 30_000,
        })
        .toBe(true);
      // A few seconds of traffic, so the figures reflect how each transport works rather than its first second.
      await page.waitForTimeout(3_000);
      const figures = await Promise.all(lanes.map(async (t) => [t, (await readFigure(page, t, answer.metric))!] as const));
      const sorted = [...figures].sort((a, b) => a[1] - b[1]);
      const [best, worst] =
        answer.type === "lane_with_most" ? [sorted[sorted.length - 1], sorted[0]] : [sorted[0], sorted[sorted.length - 1]];
      expect(best[1], `${answer.metric} is the same on every lane: ${JSON.stringify(figures)}`).not.toBe(worst[1]);
      await page.getByTestId(`lesson-answer-${worst[0]}`).click();
      await expect(verdict).toHaveAttribute("data-verdict", "wrong");
      await page.getByTestId(`lesson-answer-${best[0]}`).click();
    }
    await expect(verdict).toHaveAttribute("data-verdict", "right");
    await expect(page.getByTestId("lesson-explanation")).not.toBeEmpty();

    // Back works from the end too, by key (b) as by button; once focus has left the answer box (typing is never taken for a key).
    await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
    await page.keyboard.press("b");
    await expect(page.getByTestId("lesson-step")).toHaveText(new RegExp(`^Step ${total - 1} of ${total}`));
    expect(errors).toEqual([]);
  });
}
