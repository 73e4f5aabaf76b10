import { readFileSync } from "node:fs";
import { join } from "node:path";
import { expect, test } from "@playwright/test";

// The report the server serves is the one `./lab bench` committed; the page must show every run in it.
const report = JSON.parse(readFileSync(join(__dirname, "..", "..", "docs", "scale", "results.json"), "utf8"));

test("the Scale page shows every measured run, its charts and the peer ratios", async ({ page }) => {
  const errors: string[] = [];
  page.on("pageerror", (error) => errors.push(error.message));
  // Console errors include Content-Security-Policy violations (an inline style would be one).
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(message.text());
  });
  await page.goto("/scale");
  await expect(page.getByTestId("scale-report")).toBeVisible();
  await expect(page.getByTestId("scale-row")).toHaveCount(report.runs.length);
  await expect(page.getByTestId("scale-command")).toHaveText(report.command);
  await expect(page.getByTestId("scale-machine")).toContainText(report.machine.cpu_model);
  // Each chart has a bar per run that has a value for it; CPU per delivery exists for every run that delivered.
  const delivered = report.runs.filter((run: { deliveries: number }) => run.deliveries > 0).length;
  await expect(page.getByTestId("scale-chart-cpu-per-delivery").getByTestId("scale-bar")).toHaveCount(delivered);
  const peers = new Set(report.runs.map((run: { server: string }) => run.server));
  if (peers.size > 1) await expect(page.getByTestId("scale-ratio").first()).toBeVisible();
  // Every target of the issue has its row; with the floor's runs in the report, they are judged, not left open.
  await expect(page.getByTestId("scale-target")).toHaveCount(17);
  if (peers.has("floor")) {
    const judged = page.locator('[data-testid="scale-target"]:not([data-verdict="not measured"])');
    expect(await judged.count()).toBeGreaterThan(10);
  }
  expect(errors).toEqual([]);
});

test("the lab and the Scale page link to each other", async ({ page }) => {
  await page.goto("/");
  await page.getByTestId("site-nav").getByRole("link", { name: /Scale/ }).click();
  await expect(page).toHaveURL(/\/scale$/);
  await expect(page.getByTestId("scale-page")).toBeVisible();
  await page.getByTestId("site-nav").getByRole("link", { name: "Live lab" }).click();
  await expect(page.getByTestId("lanes")).toBeVisible();
});

test.describe("on a phone", () => {
  test.use({ viewport: { width: 390, height: 844 }, hasTouch: true, isMobile: true });

  test("the Scale page does not scroll sideways: charts fit, wide tables scroll inside themselves", async ({ page }) => {
    await page.goto("/scale");
    await expect(page.getByTestId("scale-bar").first()).toBeVisible();
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    for (const table of ["scale-ratios", "scale-table"]) {
      const region = page.getByTestId(table).locator("xpath=..");
      await expect(region).toHaveClass(/table-scroll/);
      const box = (await region.boundingBox())!;
      expect(box.x + box.width, `${table}'s box`).toBeLessThanOrEqual(390);
    }
  });
});
