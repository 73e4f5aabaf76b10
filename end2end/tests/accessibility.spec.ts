import AxeBuilder from "@axe-core/playwright";
import { expect, Page, test } from "@playwright/test";
import { lane, openKnobs, openLab, setGenerator, showLanes } from "./helpers";

// axe-core (npm, Deque's rules) on every page a class sees, in both themes: no serious or critical violation.
// A failure names each rule, its impact and the elements it found.

test.beforeEach(async ({ request }) => {
  expect((await request.delete("/api/faults")).status()).toBe(204);
  await setGenerator(request, { rate_per_second: 2, payload_bytes: 0, paused: false });
});

async function seriousViolations(page: Page): Promise<string[]> {
  const results = await new AxeBuilder({ page }).analyze();
  return results.violations
    .filter((violation) => violation.impact === "serious" || violation.impact === "critical")
    .map(
      (violation) =>
        `${violation.id} (${violation.impact}): ${violation.help}; ${violation.nodes.length} element(s), e.g. ${violation.nodes
          .slice(0, 3)
          .map((node) => node.target.join(" "))
          .join(" | ")}`,
    );
}

/** A small trace to replay, written by hand as the file format allows. */
function handWrittenTrace(): string {
  const at = Date.now() - 5_000;
  const record = (id: number, kind: object, label: string, sent: number, arrived: number) => ({
    id,
    kind,
    label,
    sent_at: at + sent,
    arrived_at: at + arrived,
  });
  return JSON.stringify({
    format: "transport-lab-trace",
    version: 3,
    exported_at: at + 3_000,
    view_at: at + 3_000,
    origin: at,
    lanes: [
      {
        transport: "sse",
        enabled: true,
        records: [
          record(0, { type: "request" }, "GET /api/sse", 0, 2),
          record(1, { type: "event", seq: 1 }, "#1 tick", 500, 503),
          record(2, { type: "control", mark: "keep_alive", from_browser: false }, ": keep-alive", 1_500, 1_500),
        ],
      },
    ],
  });
}

for (const theme of ["light", "dark"]) {
  test.describe(`${theme} theme`, () => {
    test.beforeEach(async ({ context, baseURL }) => {
      await context.addCookies([{ name: "lab_theme", value: theme, url: baseURL! }]);
    });

    test(`the lab page has no serious or critical axe violations (${theme})`, async ({ page }) => {
      await openLab(page);
      await expect(page.locator("html")).toHaveAttribute("data-theme", theme);
      await expect(page.locator('[data-testid="record"][data-kind="event"]').first()).toBeAttached();
      expect(await seriousViolations(page)).toEqual([]);
      // And with every lane shown, the knobs drawer open and a lane's folded figures unfolded.
      await showLanes(page, ["webhook", "mqtt", "grpc"]);
      await openKnobs(page);
      await lane(page, "sse").locator(".more-figures > summary").click();
      expect(await seriousViolations(page)).toEqual([]);
    });

    for (const path of ["/learn", "/learn/short-polling", "/present", "/scale"]) {
      test(`${path} has no serious or critical axe violations (${theme})`, async ({ page }) => {
        await page.goto(path);
        await expect(page.locator("html")).toHaveAttribute("data-theme", theme);
        // Let the wasm load and hydrate: what it draws is what is checked.
        await page.waitForLoadState("load");
        await page.waitForTimeout(2_500);
        expect(await seriousViolations(page)).toEqual([]);
      });
    }

    test(`a replay has no serious or critical axe violations (${theme})`, async ({ page }) => {
      await openLab(page);
      await page.getByTestId("trace-file").setInputFiles({ name: "lesson.json", mimeType: "application/json", buffer: Buffer.from(handWrittenTrace()) });
      await expect(page.getByTestId("replay-banner")).toContainText("Replaying lesson.json");
      expect(await seriousViolations(page)).toEqual([]);
    });
  });
}
