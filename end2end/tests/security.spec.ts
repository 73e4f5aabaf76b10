import { expect, test } from "@playwright/test";
import { ChildProcess, spawnSync } from "node:child_process";
import { join } from "node:path";
import { openKnobs } from "./helpers";
import { freePort, LAB_SERVER, ROOT, SITE_ENV, startListening } from "./processes";

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
  await openKnobs(page);
  // A disabled fieldset disables every control in it.
  await expect(page.getByTestId("generator-rate")).toBeDisabled();
  await expect(page.getByTestId("generator-pause")).toBeDisabled();
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
  await openKnobs(page);
  await expect(page.getByTestId("generator-pause")).toBeEnabled();
  await expect(page.getByTestId("restart-stream")).toBeEnabled();
});

test("a page on another origin cannot make the teacher's browser change anything", async ({ page, baseURL, request }) => {
  await page.goto(`${origin}/teacher?key=${KEY}`);
  const before = await (await request.get(`${origin}/api/stats`)).json();
  // The suite's own lab is another origin on the same site (another port), so the teacher's SameSite=Strict
  // cookie still goes along: only the origin check stands in the way.
  await page.goto(`${baseURL}/`);
  // A script's request: the browser sends it (no preflight for a plain POST) and hides the answer.
  await page.evaluate(async (target) => {
    await fetch(`${target}/api/faults/restart`, { method: "POST", credentials: "include" }).catch(() => undefined);
  }, origin);
  // The classic forgery: a form that posts to the lab, which the browser follows to the answer.
  await page.evaluate((target) => {
    const form = document.createElement("form");
    form.method = "POST";
    form.action = `${target}/api/faults/restart`;
    document.body.append(form);
    form.submit();
  }, origin);
  await page.waitForURL(`${origin}/api/faults/restart`);
  await expect(page.locator("body")).toContainText("forbidden_origin");
  const after = await (await request.get(`${origin}/api/stats`)).json();
  expect(after.epoch).toBe(before.epoch);
  expect(after.generator).toEqual(before.generator);
});

test("the probe finds nothing on a lab that asks for the teacher's key", async () => {
  // tools/probe.py: the hostile requests of a curious student, kept as a script anyone can run against a lab.
  const probe = spawnSync("python3", [join(ROOT, "tools", "probe.py"), origin], { encoding: "utf8", timeout: 120_000 });
  expect(probe.stdout + probe.stderr).toMatch(/\d+ probes, 0 findings/);
  expect(probe.status).toBe(0);
});
