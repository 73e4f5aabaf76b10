import { expect, Page, test } from "@playwright/test";
import { join } from "node:path";
import { lane, setGenerator } from "./helpers";
import { ROOT } from "./processes";

// The lab page's first screen compared with the picture committed beside this file, on a projector, a large
// screen and a phone, in both themes: a layout regression fails here. What moves (the diagrams, the figures, the
// lanes' states, the view's sentence) is masked; what is compared is the page's shape.
//
// After an intended change to the layout: `npx playwright test screenshots --update-snapshots` in end2end/, look at
// the new pictures, commit them. With LAB_DOCS_SCREENSHOTS=1 the same runs also write the README's and the docs'
// pictures (unmasked, 1280×720, light) to docs/src/images/.

const SCREENS = [
  { name: "projector", width: 1280, height: 720 },
  { name: "large", width: 1920, height: 1080 },
  { name: "phone", width: 390, height: 844 },
] as const;

const DOCS_IMAGES = join(ROOT, "docs", "src", "images");

test.beforeEach(async ({ request }) => {
  expect((await request.delete("/api/faults")).status()).toBe(204);
  await setGenerator(request, { rate_per_second: 2, payload_bytes: 0, paused: false });
});

function moving(page: Page) {
  return [
    page.locator("svg.sequence-diagram"),
    page.locator("svg.time-axis"),
    page.getByTestId("glance"),
    page.getByTestId("lane-status"),
    page.getByTestId("view-state"),
    page.locator(".lane-metrics"),
    page.locator(".clock-offset, .side-channel"),
  ];
}

async function settled(page: Page, path: string) {
  await page.goto(path);
  await expect(lane(page, "sse").getByTestId("lane-status")).not.toHaveText("off");
  // The diagrams' height is fitted to the window after the first layout; wait for it to hold still.
  await expect
    .poll(async () => {
      const first = await page.locator("svg.sequence-diagram").first().getAttribute("height");
      await page.waitForTimeout(300);
      return first === (await page.locator("svg.sequence-diagram").first().getAttribute("height"));
    })
    .toBe(true);
}

for (const screen of SCREENS) {
  for (const theme of ["light", "dark"] as const) {
    test.describe(`${screen.name} ${screen.width}×${screen.height}, ${theme}`, () => {
      test.use({
        viewport: { width: screen.width, height: screen.height },
        colorScheme: theme,
        ...(screen.name === "phone" ? { hasTouch: true, isMobile: true } : {}),
      });

      test("the lab's first screen", async ({ page }) => {
        await settled(page, "/");
        await expect(page).toHaveScreenshot(`lab-${screen.name}-${theme}.png`, {
          mask: moving(page),
          animations: "disabled",
          maxDiffPixelRatio: 0.01,
        });
        if (process.env.LAB_DOCS_SCREENSHOTS && screen.name === "projector" && theme === "light") {
          await page.waitForTimeout(6_000);
          await page.screenshot({ path: join(DOCS_IMAGES, "screenshot.png") });
        }
      });
    });
  }
}

test.describe("a lesson on the projector", () => {
  test.use({ viewport: { width: 1280, height: 720 }, colorScheme: "light" });

  test("the lesson's first screen", async ({ page }) => {
    await settled(page, "/learn/websocket");
    await expect(page.getByTestId("lesson-text")).toBeVisible();
    await expect(page).toHaveScreenshot("lesson-projector-light.png", {
      mask: moving(page),
      animations: "disabled",
      maxDiffPixelRatio: 0.01,
    });
    if (process.env.LAB_DOCS_SCREENSHOTS) {
      await page.waitForTimeout(6_000);
      await page.screenshot({ path: join(DOCS_IMAGES, "lesson.png") });
    }
  });
});
