import { expect, test } from "@playwright/test";
import { lane, openKnobs, openLab } from "./helpers";

// A part of the page whose code is a wasm chunk of its own is fetched when first used. When that fetch fails (a
// phone on a crowded Wi-Fi, a lab restarted with a newer build) the page's code stops; the page must say so and
// offer the reload that brings it back, not sit there dead.
test("a part whose code cannot be fetched says so, and the reload it offers brings the page back", async ({ page }) => {
  await openLab(page);
  const notice = page.getByTestId("code-failed");
  await expect(notice).toBeHidden();

  // The knobs drawer's code is fetched when the drawer is first opened: lose that one request.
  const knobsChunk = /\/pkg\/split_knobs_code_\d+\.wasm$/;
  let refused = 0;
  await page.route(knobsChunk, (route) => {
    refused += 1;
    return route.abort("failed");
  });
  await page.getByTestId("knobs-open").click();
  await expect(notice).toBeVisible();
  await expect(page.getByTestId("code-failed-reason")).toContainText("could not be fetched");
  expect(refused).toBeGreaterThan(0);

  await page.unroute(knobsChunk);
  await notice.getByRole("link", { name: "Reload the page" }).click();
  await expect(lane(page, "sse").getByTestId("lane-status")).not.toHaveText("off");
  await expect(notice).toBeHidden();
  await openKnobs(page);
});

// The same for the page's main code: with no wasm running, no panic hook can speak, so the shell's load watch does.
for (const lost of ["main module", "main wasm"]) {
  test(`a page whose ${lost} cannot be fetched says so instead of showing its lanes off`, async ({ page }) => {
    const main = lost === "main module" ? /\/pkg\/transport-lab\.js$/ : /\/pkg\/transport-lab(_bg)?\.wasm$/;
    let refused = 0;
    await page.route(main, (route) => {
      refused += 1;
      return route.abort("failed");
    });
    await page.goto("/");
    await expect(page.getByTestId("code-failed")).toBeVisible();
    await expect(page.getByTestId("code-failed-reason")).toContainText("could not be fetched");
    // The module may be asked for twice: once preloaded, once imported.
    expect(refused).toBeGreaterThan(0);

    await page.unroute(main);
    await page.getByTestId("code-failed").getByRole("link", { name: "Reload the page" }).click();
    await expect(lane(page, "sse").getByTestId("lane-status")).not.toHaveText("off");
    await expect(page.getByTestId("code-failed")).toBeHidden();
  });
}
