import { expect, test } from "@playwright/test";
import { ChildProcess } from "node:child_process";
import { freePort, LAB_SERVER, SITE_ENV, startListening } from "./processes";

// A lab as a class runs it, asking for the teacher's key (the suite's own server listens on loopback alone, where
// the one user is the teacher): a lab of its own, started here on a free port with --require-teacher. A student's
// page shows the class-wide controls disabled and the server refuses them; the teacher link makes a browser the
// teacher's; and a page on another origin cannot make a browser change anything, not even the teacher's browser.

const KEY = "security-spec-teacher-key";
let lab: ChildProcess | undefined;
let origin = "";

test.beforeAll(async () => {
  const port = await freePort();
  origin = `http://127.0.0.1:${port}`;
  const args = ["--addr", `127.0.0.1:${port}`, "--require-teacher", "--teacher-key", KEY, "--paused"];
  lab = await startListening(LAB_SERVER, args, port, SITE_ENV);
});

test.afterAll(() => {
  lab?.kill("SIGKILL");
});

test("a student's page has the class-wide controls disabled, and the server refuses them", async ({ page }) => {
  await page.goto(`${origin}/`);
  await expect(page.locator("fieldset.generator")).toBeDisabled();
  await expect(page.getByTestId("generator-rate")).toBeDisabled();
  await expect(page.getByTestId("teacher-only").first()).toContainText("Only the teacher can change the generator");
  await expect(page.getByTestId("restart-stream")).toBeDisabled();
  await expect(page.getByTestId("fault-everyone")).toBeDisabled();
  // Its own faults are its own: the clear button works for this page.
  await page.getByTestId("clear-faults").click();
  await expect(page.getByTestId("fault-outcome")).toHaveText("every delay and offline fault cleared, for this page");
  // The server is what decides: the same request from the page's own script is refused.
  const refused = await page.evaluate(async () => {
    const response = await fetch("/api/faults/restart", { method: "POST" });
    return { status: response.status, body: await response.json() };
  });
  expect(refused).toEqual({ status: 403, body: expect.objectContaining({ error: "teacher_only" }) });
});

test("the teacher link makes the browser the teacher's, and its presenter view broadcasts", async ({ page }) => {
  const wrong = await page.goto(`${origin}/teacher?key=not-the-key-not-the-key`);
  expect(wrong?.status()).toBe(403);
  await page.goto(`${origin}/teacher?key=${KEY}`);
  await expect(page).toHaveURL(`${origin}/present`);
  await expect(page.getByTestId("teacher-only")).toHaveCount(0);
  await page.getByTestId("broadcast-input").fill("hello from the teacher");
  await page.getByTestId("broadcast-send").click();
  await expect(page.getByTestId("broadcast-result")).toContainText("sent as event #");
  // The cookie is the browser's key and is HttpOnly: the page's script cannot read it.
  expect(await page.evaluate(() => document.cookie)).not.toContain("lab_teacher");
  await page.goto(`${origin}/`);
  await expect(page.locator("fieldset.generator")).toBeEnabled();
  await expect(page.getByTestId("restart-stream")).toBeEnabled();
});

test("a page on another origin cannot make the teacher's browser change anything", async ({ page, baseURL, request }) => {
  await page.goto(`${origin}/teacher?key=${KEY}`);
  const before = await (await request.get(`${origin}/api/stats`)).json();
  // The suite's own lab is another origin on the same site (another port), so the teacher's SameSite=Strict
  // cookie still goes along: only the origin check stands in the way.
  await page.goto(`${baseURL}/`);
  const statuses = await page.evaluate(async (target) => {
    const fetched = await fetch(`${target}/api/faults/restart`, { method: "POST", credentials: "include", mode: "cors" })
      .then((response) => response.status)
      .catch(() => "blocked");
    const form = await fetch(`${target}/api/generator`, {
      method: "POST",
      credentials: "include",
      mode: "no-cors",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "rate_per_second=50",
    }).then((response) => response.type);
    return { fetched, form };
  }, origin);
  // Whatever the browser shows the page (a CORS failure hides the 403), nothing changed on the server.
  expect(statuses.form).toBe("opaque");
  const after = await (await request.get(`${origin}/api/stats`)).json();
  expect(after.epoch).toBe(before.epoch);
  expect(after.generator).toEqual(before.generator);
  // And the server said why, to a client that can read the answer.
  const forged = await request.post(`${origin}/api/faults/restart`, {
    headers: { origin: baseURL!, "x-lab-teacher": KEY },
  });
  expect(forged.status()).toBe(403);
  expect((await forged.json()).error).toBe("forbidden_origin");
});
