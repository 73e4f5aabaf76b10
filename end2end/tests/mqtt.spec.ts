import { expect, Page, test } from "@playwright/test";
import { drawnSeqs, lane, metric, openKnobs, openLab, stats } from "./helpers";

// The MQTT lane: the lab's broker over one WebSocket, every MQTT packet an arrow. Off at page start; key 7 or its
// toggle turns it on.

const mqttLane = (page: Page) => lane(page, "mqtt");
/** The lane's own knobs, in the knobs drawer (opened by `turnOnMqtt`). */
const mqttKnobs = (page: Page) => page.getByTestId("knobs-drawer").locator('[data-lane="mqtt"]');

/** Every drawn record's tooltip in the MQTT lane, with its kind and sequence number. */
async function records(page: Page): Promise<{ kind: string; seq: number | null; title: string }[]> {
  return mqttLane(page)
    .locator('[data-testid="record"]')
    .evaluateAll((nodes) =>
      nodes.map((node) => ({
        kind: node.getAttribute("data-kind") ?? "",
        seq: node.hasAttribute("data-seq") ? Number(node.getAttribute("data-seq")) : null,
        title: node.querySelector("title")?.textContent ?? "",
      })),
    );
}

async function turnOnMqtt(page: Page) {
  await page.getByTestId("toggle-mqtt").check();
  await expect(mqttLane(page).getByTestId("lane-status")).toHaveText("open", { timeout: 20_000 });
  await openKnobs(page);
}

/** Sets the lane's subscription QoS and waits for the SUBACK that grants it. */
async function subscribeAt(page: Page, qos: 0 | 1 | 2) {
  await mqttKnobs(page).getByTestId("mqtt-qos").selectOption(String(qos));
  await mqttKnobs(page).getByTestId("mqtt-apply").click();
  await expect(mqttKnobs(page).getByTestId("mqtt-problem")).toHaveText("");
  await expect(mqttKnobs(page).getByTestId("mqtt-applied")).toContainText(`QoS ${qos}`);
  await expect
    .poll(async () => (await records(page)).some((record) => record.title.includes(`SUBACK`) && record.title.includes(`granted 0x0${qos}`)))
    .toBe(true);
}

test("turned on with key 7, the lane connects, subscribes and receives events", async ({ page }) => {
  const errors = await openLab(page);
  await expect(mqttLane(page).getByTestId("lane-status")).toHaveText("off");
  await page.keyboard.press("7");
  await expect(mqttLane(page).getByTestId("lane-status")).toHaveText("open", { timeout: 20_000 });
  await expect.poll(async () => (await drawnSeqs(page, "mqtt")).length, { timeout: 20_000 }).toBeGreaterThan(2);
  const titles = (await records(page)).map((record) => record.title);
  for (const packet of ["101 Switching Protocols", "CONNECT", "CONNACK", "SUBSCRIBE", "SUBACK", "PUBLISH q1", "PUBACK"]) {
    expect(titles.some((title) => title.includes(packet)), `${packet} drawn`).toBe(true);
  }
  expect(await metric(page, "mqtt", "missed")).toBe("0");
  // Each packet's arrow carries what the server measured of its own frame: for the page's CONNECT, a client frame's
  // 6 bytes of header and mask around the very packet the page counted itself; the upgrade's 101 is its head alone.
  const titleOf = async (label: RegExp) => (await records(page)).find((record) => label.test(record.title))?.title ?? "";
  await expect.poll(() => titleOf(/^CONNECT\b/)).toMatch(/measured at the server's socket: head 0 B · framing 6 B · payload \d+ B/);
  const connect = await titleOf(/^CONNECT\b/);
  const counted = connect.match(/(\d+) B in one binary WebSocket frame/)![1];
  expect(connect).toContain(`framing 6 B · payload ${counted} B`);
  await expect.poll(() => titleOf(/^CONNACK\b/)).toMatch(/framing 2 B · payload \d+ B/);
  expect(await titleOf(/^101 Switching Protocols/)).toMatch(/head \d+ B · framing 0 B · payload 0 B/);
  // Sent within milliseconds of each other, the handshake's arrows are one line at this scale: each is labelled,
  // one under another, and its label opens it in the inspector.
  const labels = mqttLane(page).locator('[data-testid="record"] > text');
  for (const packet of ["CONNECT", "CONNACK", "SUBSCRIBE", "SUBACK"]) {
    await expect(labels.filter({ hasText: new RegExp(`^${packet}\\b`) }).first(), `${packet} labelled`).toBeVisible();
  }
  // Dispatched on the label itself: the drawing scrolls, and its elements are placed again each second.
  await mqttLane(page).getByTestId("diagram").hover();
  await labels.filter({ hasText: /^CONNECT\b/ }).first().dispatchEvent("click");
  await expect(page.getByTestId("inspector")).toContainText("MQTT CONNECT");
  await page.getByTestId("inspector-close").click();
  // The way to the lane's own knobs is inside its header, not cut off below it, and opens the drawer.
  const knobs = mqttLane(page).getByRole("button", { name: "QoS, topics, sessions…" });
  const header = (await mqttLane(page).locator(".lane-header").boundingBox())!;
  const button = (await knobs.boundingBox())!;
  expect(button.y + button.height, "inside the header").toBeLessThanOrEqual(header.y + header.height);
  await knobs.click();
  await expect(mqttKnobs(page).getByTestId("mqtt-filter")).toBeVisible();
  expect(errors).toEqual([]);
});

test("at QoS 2 one event is four arrows: PUBLISH, PUBREC, PUBREL, PUBCOMP", async ({ page }) => {
  await openLab(page);
  await turnOnMqtt(page);
  await subscribeAt(page, 2);
  let steps: string[] = [];
  await expect
    .poll(
      async () => {
        const drawn = await records(page);
        const publish = drawn.find((record) => record.kind === "event" && /PUBLISH q2 id=\d+/.test(record.title));
        const id = publish?.title.match(/PUBLISH q2 id=(\d+)/)?.[1];
        if (!id) return [];
        const after = drawn.slice(drawn.indexOf(publish!));
        steps = ["PUBREC", "PUBREL", "PUBCOMP"].filter((kind) => after.some((record) => new RegExp(`${kind} id=${id}\\b`).test(record.title)));
        return steps;
      },
      { timeout: 30_000 },
    )
    .toEqual(["PUBREC", "PUBREL", "PUBCOMP"]);
  await expect(mqttKnobs(page).getByTestId("mqtt-in-flight")).toContainText("QoS 2 awaiting PUBREL");
});

test("the MQTT lane numbers events as the SSE lane does", async ({ page, request }) => {
  await openLab(page);
  await turnOnMqtt(page);
  await expect.poll(async () => (await drawnSeqs(page, "mqtt")).length, { timeout: 20_000 }).toBeGreaterThan(0);
  const text = `mqtt and sse agree ${Date.now()}`;
  const response = await request.post("/api/publish", { data: { text } });
  expect(response.status()).toBe(202);
  const { seq } = await response.json();
  for (const transport of ["sse", "mqtt"] as const) {
    const arrow = lane(page, transport).locator(`[data-testid="record"][data-kind="event"][data-seq="${seq}"]`);
    await expect(arrow.locator("title")).toContainText(text, { timeout: 20_000 });
  }
  // And the events both lanes hold in common carry the same numbers in the same order.
  const sse = await drawnSeqs(page, "sse");
  const mqtt = await drawnSeqs(page, "mqtt");
  const common = mqtt.filter((value) => sse.includes(value));
  expect(common.length).toBeGreaterThan(0);
  expect(common).toEqual([...common].sort((a, b) => a - b));
});

test("a server-side drop at QoS 1 with a kept session resumes with nothing missed", async ({ page, request }) => {
  await openLab(page);
  await turnOnMqtt(page);
  await expect.poll(async () => Number(await metric(page, "mqtt", "last-seq")), { timeout: 20_000 }).toBeGreaterThan(0);
  await mqttLane(page).getByTestId("drop").click();
  await expect(mqttLane(page).getByTestId("drop-outcome")).toContainText("dropped 1 connection");
  // The broker kept the session: the lane says so on its return, and catches up from the broker's queue.
  await expect.poll(async () => (await records(page)).some((record) => record.title.includes("session resumed")), { timeout: 30_000 }).toBe(true);
  const head = (await stats(request)).head_seq + 2;
  await expect.poll(async () => Number(await metric(page, "mqtt", "last-seq")), { timeout: 30_000 }).toBeGreaterThanOrEqual(head);
  expect(await metric(page, "mqtt", "missed")).toBe("0");
});

test("dropped after PUBREC, the broker resends PUBREL and the message arrives exactly once", async ({ page, request }) => {
  await openLab(page);
  await turnOnMqtt(page);
  // At QoS 1 there is no PUBREC to drop after: the fault says so and is not armed.
  const outcome = mqttKnobs(page).getByTestId("mqtt-fault-outcome");
  await mqttKnobs(page).getByTestId("mqtt-drop-after-pubrec").click();
  await expect(outcome).toContainText("not armed: this fault needs QoS 2");
  await subscribeAt(page, 2);
  await mqttKnobs(page).getByTestId("mqtt-drop-after-pubrec").click();
  // Armed, it fires with the next QoS 2 event (often before "armed" could be read), then the broker finishes it.
  await expect(mqttKnobs(page).getByTestId("mqtt-fault-outcome")).toContainText("arrived exactly once", { timeout: 40_000 });
  const drawn = await records(page);
  const note = drawn.find((record) => record.title.includes("arrived exactly once"));
  expect(note?.title).toContain("PUBREL");
  const seq = Number(note!.title.match(/#(\d+) arrived exactly once/)![1]);
  expect(drawn.filter((record) => record.kind === "event" && record.seq === seq)).toHaveLength(1);
  // The lane carries on with nothing missed and nothing twice.
  const head = (await stats(request)).head_seq + 2;
  await expect.poll(async () => Number(await metric(page, "mqtt", "last-seq")), { timeout: 30_000 }).toBeGreaterThanOrEqual(head);
  expect(await metric(page, "mqtt", "missed")).toBe("0");
  expect(await metric(page, "mqtt", "duplicates")).toBe("0");
});

test("a filter narrowed to messages skips the ticks without counting them missed or drawing a loss", async ({ page, request }) => {
  await openLab(page);
  await turnOnMqtt(page);
  await mqttKnobs(page).getByTestId("mqtt-filter").fill("lab/events/message");
  await mqttKnobs(page).getByTestId("mqtt-apply").click();
  await expect(mqttKnobs(page).getByTestId("mqtt-applied")).toContainText("lab/events/message");
  await expect
    .poll(async () => (await records(page)).some((record) => record.title.includes("SUBSCRIBE") && record.title.includes("lab/events/message")))
    .toBe(true);
  // Ticks go on being published (1 a second) while this lane asks only for messages: two messages with ticks
  // between them.
  const seqs: number[] = [];
  for (const text of ["first, narrowed", "second, narrowed"]) {
    await expect.poll(async () => (await stats(request)).head_seq, { timeout: 10_000 }).toBeGreaterThan(seqs.at(-1) ?? 0);
    await page.waitForTimeout(2_500);
    const response = await request.post("/api/publish", { data: { text } });
    seqs.push((await response.json()).seq);
  }
  for (const seq of seqs) {
    await expect(mqttLane(page).locator(`[data-testid="record"][data-kind="event"][data-seq="${seq}"]`)).toBeAttached({ timeout: 20_000 });
  }
  const drawn = await records(page);
  expect(drawn.filter((record) => record.title.includes("missing before")), "no loss drawn").toEqual([]);
  expect(await metric(page, "mqtt", "missed")).toBe("0");
});

test("a malformed filter or keep-alive is refused in the page and never sent", async ({ page }) => {
  await openLab(page);
  await turnOnMqtt(page);
  const before = (await records(page)).filter((record) => record.title.includes("SUBSCRIBE")).length;
  const cases: [string, string, RegExp][] = [
    ["", "30", /filter is empty/],
    ["lab/#/tick", "30", /not a topic filter/],
    ["lab/events/#", "0", /keep-alive must be/],
    ["lab/events/#", "301", /keep-alive must be/],
  ];
  for (const [filter, keepAlive, problem] of cases) {
    await mqttKnobs(page).getByTestId("mqtt-filter").fill(filter);
    await mqttKnobs(page).getByTestId("mqtt-keep-alive").fill(keepAlive);
    await mqttKnobs(page).getByTestId("mqtt-apply").click();
    await expect(mqttKnobs(page).getByTestId("mqtt-problem")).toHaveText(problem);
  }
  await expect(mqttKnobs(page).getByTestId("mqtt-applied")).toContainText("lab/events/# at QoS 1");
  expect((await records(page)).filter((record) => record.title.includes("SUBSCRIBE")).length).toBe(before);
});

test("the round trip publishes to lab/chat at QoS 1 on the lane's own connection and times its return", async ({ page }) => {
  await openLab(page);
  await turnOnMqtt(page);
  await page.getByTestId("round-trip").click();
  await expect
    .poll(async () => (await records(page)).some((record) => /^round trip \d+(\.\d+)? ms/.test(record.title)), { timeout: 30_000 })
    .toBe(true);
  const titles = (await records(page)).map((record) => record.title);
  const publish = titles.findIndex((title) => title.includes("PUBLISH q1") && title.includes("lab/chat"));
  expect(publish).toBeGreaterThanOrEqual(0);
  const id = titles[publish].match(/PUBLISH q1 id=(\d+)/)![1];
  expect(titles.slice(publish).some((title) => title.startsWith(`PUBACK id=${id}`))).toBe(true);
});
