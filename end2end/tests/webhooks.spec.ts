import { createHmac } from "node:crypto";
import { createServer } from "node:http";
import { AddressInfo } from "node:net";
import { expect, Page, test } from "@playwright/test";
import { lane, metric, openKnobs, openLab, setGenerator } from "./helpers";

// The webhook lane: the lab's sender POSTs each event to the lab's own receiver; the page registers the endpoint,
// reads the sender's log, draws every attempt and re-checks every signature with WebCrypto.

const webhookLane = (page: Page) => lane(page, "webhook");
/** The lane's own knobs, in the knobs drawer (opened by `turnOnWebhooks`). */
const webhookKnobs = (page: Page) => page.getByTestId("knobs-drawer").locator('[data-lane="webhook"]');

/** Every drawn record's tooltip in the webhook lane, and its kind. */
async function records(page: Page): Promise<{ kind: string; seq: number | null; title: string }[]> {
  return webhookLane(page)
    .locator('[data-testid="record"]')
    .evaluateAll((nodes) =>
      nodes.map((node) => ({
        kind: node.getAttribute("data-kind") ?? "",
        seq: node.hasAttribute("data-seq") ? Number(node.getAttribute("data-seq")) : null,
        title: node.querySelector("title")?.textContent ?? "",
      })),
    );
}

async function turnOnWebhooks(page: Page): Promise<string> {
  await page.getByTestId("toggle-webhook").check();
  await openKnobs(page);
  await expect(webhookKnobs(page).getByTestId("webhook-secret")).toHaveText(/^whsec_[A-Za-z0-9+/=]+$/);
  // The endpoint's id, from the note that says it was registered.
  let id = "";
  await expect
    .poll(async () => {
      const note = (await records(page)).find((record) => record.title.includes("registered"));
      id = note?.title.match(/endpoint (ep_[0-9a-f]+) registered/)?.[1] ?? "";
      return id;
    })
    .not.toBe("");
  return id;
}

async function setReceiver(page: Page, mode: string) {
  await webhookKnobs(page).getByTestId("receiver-mode").selectOption(mode);
}

test.beforeEach(async ({ request }) => {
  expect((await request.delete("/api/faults")).status()).toBe(204);
  await setGenerator(request, { rate_per_second: 4, payload_bytes: 0, paused: false });
});

test("off by default; switched on it draws signed deliveries from Sender to Receiver, each re-checked in the browser", async ({ page, request }) => {
  const errors = await openLab(page);
  await expect(webhookLane(page).getByTestId("lane-status")).toHaveText("off");
  const id = await turnOnWebhooks(page);
  await expect(webhookLane(page).locator("svg text", { hasText: "Sender" }).first()).toBeAttached();
  await expect(webhookLane(page).locator("svg text", { hasText: "Receiver" }).first()).toBeAttached();

  await expect.poll(async () => (await records(page)).filter((record) => record.title.includes("signature ✓")).length).toBeGreaterThanOrEqual(4);
  await expect(webhookKnobs(page).getByTestId("signature-tally")).toContainText(/[1-9]\d* valid, 0 invalid/);
  const drawn = await records(page);
  const post = drawn.find((record) => record.kind === "event" && record.title.startsWith("POST #"))!;
  expect(post.title).toMatch(/webhook-id msg_\w+_\d+, webhook-timestamp \d+, webhook-signature v1,/);
  expect(drawn.some((record) => record.kind === "response" && record.title.startsWith("200"))).toBe(true);
  // Counted as events arriving at the receiver, bytes measured at the sender's socket.
  await expect.poll(async () => Number(await metric(page, "webhook", "events"))).toBeGreaterThan(0);
  expect(await metric(page, "webhook", "missed")).toBe("0");
  expect(parseFloat(await metric(page, "webhook", "bytes-per-event"))).toBeGreaterThan(100);
  await expect(webhookKnobs(page).getByTestId("receiver-counts")).toContainText(/processed [1-9]/);

  // The log the page reads is the API's; the arrows' byte counts are its figures.
  const log = await (await request.get(`/api/webhooks/endpoints/${id}/deliveries`)).json();
  const first = log.attempts[0];
  expect(drawn.some((record) => record.title.startsWith(`POST #${first.seq} · ${first.request_bytes} B`))).toBe(true);

  // Off: the page deletes its endpoint, and the sender stops.
  await page.getByTestId("toggle-webhook").uncheck();
  await expect.poll(async () => (await request.get(`/api/webhooks/endpoints/${id}/deliveries`)).status()).toBe(404);
  expect(errors).toEqual([]);
});

test("a failing receiver: retries are separate arrows under one webhook-id, and a retry is overtaken", async ({ page, request }) => {
  await openLab(page);
  const id = await turnOnWebhooks(page);
  await setReceiver(page, "error500");
  // A third attempt at one event within the class clock's first 30 s; the wait before each retry is a bar.
  const thirdTry = async () =>
    (await records(page)).find((record) => record.kind === "event" && / · try 3 · /.test(record.title));
  await expect.poll(async () => (await thirdTry()) !== undefined, { timeout: 40_000 }).toBe(true);
  const { seq } = (await thirdTry())!;
  expect((await records(page)).some((record) => record.kind === "error" && /^500 · retry in \d+\.\d s/.test(record.title))).toBe(true);
  await expect(webhookLane(page).locator("rect.held").first()).toBeAttached();
  // The sender's log: one webhook-id for every try at that event, each with its own timestamp and signature.
  const log = await (await request.get(`/api/webhooks/endpoints/${id}/deliveries`)).json();
  const tries = log.attempts.filter((attempt: { seq: number }) => attempt.seq === seq);
  expect(tries.slice(0, 3).map((attempt: { attempt: number }) => attempt.attempt)).toEqual([1, 2, 3]);
  expect(new Set(tries.map((attempt: { webhook_id: string }) => attempt.webhook_id)).size).toBe(1);
  // Each try is signed afresh: a new timestamp (whole seconds, so two tries within one second share it) and so a
  // new signature whenever the timestamp moved.
  const timestamps = tries.map((attempt: { timestamp: number }) => attempt.timestamp);
  expect(timestamps).toEqual([...timestamps].sort((a: number, b: number) => a - b));
  expect(new Set(tries.map((attempt: { signature: string }) => attempt.signature)).size).toBe(new Set(timestamps).size);
  expect(timestamps[2]).toBeGreaterThan(timestamps[0]);

  // Healthy again: the retried event is delivered after later ones, which the lane and the receiver both count.
  await setReceiver(page, "healthy");
  await expect.poll(async () => Number(await metric(page, "webhook", "out-of-order")), { timeout: 40_000 }).toBeGreaterThan(0);
  await expect(webhookKnobs(page).getByTestId("receiver-counts")).toContainText(/out of order [1-9]/);
});

test("the dedupe switch: a redelivery after a late answer is acknowledged and not processed twice", async ({ page }) => {
  test.setTimeout(90_000);
  await openLab(page);
  await turnOnWebhooks(page);
  await webhookKnobs(page).getByTestId("receiver-dedupe").check();
  await setReceiver(page, "slow");
  // Slower than the sender's 5 s timeout: it processes, answers late, and the sender delivers the same id again.
  await webhookKnobs(page).getByTestId("receiver-slow-secs").fill("6");
  await webhookKnobs(page).getByTestId("receiver-slow-secs").press("Enter");
  await expect(webhookKnobs(page).getByTestId("receiver-counts")).toContainText(/duplicates skipped [1-9]/, { timeout: 60_000 });
  await expect(webhookKnobs(page).getByTestId("receiver-counts")).toContainText("duplicates processed 0");
  expect((await records(page)).some((record) => record.title.startsWith("no answer: timeout"))).toBe(true);
});

test("410 Gone stops the deliveries, and the lane says so", async ({ page }) => {
  await openLab(page);
  await turnOnWebhooks(page);
  await setReceiver(page, "gone");
  await expect(webhookKnobs(page).getByTestId("webhook-disabled")).toContainText("410", { timeout: 20_000 });
  // An attempt already on its way when the first 410 came back is answered (410) and drawn a poll later.
  await page.waitForTimeout(1_000);
  const count = (await records(page)).filter((record) => record.title.startsWith("POST #")).length;
  await page.waitForTimeout(2_000);
  expect((await records(page)).filter((record) => record.title.startsWith("POST #")).length).toBe(count);
});

test("your own receiver: a local HTTP server gets the signed POSTs, verifiable with the secret shown; a refused host is explained", async ({ page }) => {
  // A receiver nobody here wrote beyond these lines: Node's http server, checking each signature with node:crypto.
  const received: { id: string; timestamp: string; body: string; signatures: string[] }[] = [];
  const server = createServer((request, response) => {
    let body = "";
    request.on("data", (chunk) => (body += chunk));
    request.on("end", () => {
      const [id, timestamp] = [String(request.headers["webhook-id"]), String(request.headers["webhook-timestamp"])];
      received.push({ id, timestamp, body, signatures: String(request.headers["webhook-signature"]).split(" ") });
      response.writeHead(204).end();
    });
  });
  const verified = (secret: string) =>
    received.map(({ id, timestamp, body, signatures }) => {
      const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
      const expected = createHmac("sha256", key).update(`${id}.${timestamp}.${body}`).digest("base64");
      return signatures.includes(`v1,${expected}`);
    });
  await new Promise<void>((listening) => server.listen(0, "127.0.0.1", listening));
  const { port } = server.address() as AddressInfo;
  try {
    await openLab(page);
    await turnOnWebhooks(page);
    // Not a host the lab may send to by default: refused with the reason, and the lab's receiver stays.
    await webhookKnobs(page).getByTestId("own-receiver-url").fill("http://10.1.2.3:9000/hook");
    await webhookKnobs(page).getByTestId("own-receiver-use").click();
    await expect(webhookKnobs(page).getByTestId("own-receiver-refused")).toContainText(/10\.1\.2\.3/);
    await expect(webhookKnobs(page).getByTestId("own-receiver-url")).toBeVisible();

    await webhookKnobs(page).getByTestId("own-receiver-url").fill(`http://127.0.0.1:${port}/hook`);
    await webhookKnobs(page).getByTestId("own-receiver-use").click();
    await expect(webhookKnobs(page).getByTestId("own-receiver-target")).toContainText(`127.0.0.1:${port}`);
    await expect(webhookKnobs(page).getByTestId("own-receiver-refused")).toBeHidden();
    await expect.poll(() => received.length, { timeout: 20_000 }).toBeGreaterThanOrEqual(3);
    // Checked with the secret the page shows for this endpoint.
    const secret = (await webhookKnobs(page).getByTestId("webhook-secret").textContent()) ?? "";
    expect(verified(secret), JSON.stringify(received)).toEqual(received.map(() => true));
    expect(verified("whsec_" + Buffer.alloc(24).toString("base64"))).toEqual(received.map(() => false));
    await expect(webhookKnobs(page).getByTestId("signature-tally")).toContainText(/[1-9]\d* valid, 0 invalid/);
    // Its 204s are drawn as the answers.
    await expect.poll(async () => (await records(page)).some((record) => record.kind === "response" && record.title.startsWith("204"))).toBe(true);

    await webhookKnobs(page).getByTestId("own-receiver-back").click();
    await expect(webhookKnobs(page).getByTestId("receiver-mode")).toBeVisible();
  } finally {
    server.close();
  }
});
