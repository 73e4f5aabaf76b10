import { expect, Page, APIRequestContext } from "@playwright/test";

export const TRANSPORTS = ["short_poll", "long_poll", "sse", "web_socket", "http_stream"] as const;
/** The lanes that keep one of the browser's 6 connections open, paused in a tab that may not hold them. */
export const HELD = ["long_poll", "sse", "http_stream"] as const;
export type TransportId = (typeof TRANSPORTS)[number];
/** Every lane on the page: the browser's transports, and the webhook, MQTT and gRPC-web lanes (off until switched on). */
export type LaneId = TransportId | "webhook" | "mqtt" | "grpc";

export type TransportStats = {
  open_connections: number;
  requests: number;
  events_delivered: number;
  body_bytes_sent: number;
};

export async function stats(request: APIRequestContext): Promise<Record<LaneId, TransportStats> & { head_seq: number }> {
  const response = await request.get("/api/stats");
  expect(response.status()).toBe(200);
  const body = await response.json();
  return { ...body.transports, head_seq: body.head_seq };
}

export async function setGenerator(request: APIRequestContext, update: object) {
  const response = await request.post("/api/generator", { data: update });
  expect(response.status(), await response.text()).toBe(200);
}

export function lane(page: Page, transport: LaneId) {
  return page.getByTestId(`lane-${transport}`);
}

/** Opens the lab and waits until the wasm has hydrated the page and every lane is connected. */
export async function openLab(page: Page) {
  const errors: string[] = [];
  page.on("pageerror", (error) => errors.push(error.message));
  // Console errors include Content-Security-Policy violations and failed loads, which are not page errors.
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(message.text());
  });
  await page.goto("/");
  for (const transport of TRANSPORTS) {
    await expect(lane(page, transport).getByTestId("lane-status")).not.toHaveText("off");
  }
  // The page shows four lanes side by side; these tests watch all five that are on. On a phone, where a lane's
  // button brings it into view, the strip is left at its first lane.
  if ((page.viewportSize()?.width ?? 1280) > 600) await showLanes(page, TRANSPORTS);
  return errors;
}

/** Shows `lanes` side by side (from the lane strip), leaving the others as they are. */
export async function showLanes(page: Page, lanes: readonly LaneId[]) {
  for (const id of lanes) {
    const button = page.getByTestId(`show-${id}`);
    if ((await button.getAttribute("aria-pressed")) !== "true") await button.click();
    await expect(button).toHaveAttribute("aria-pressed", "true");
    await expect(lane(page, id)).toBeVisible();
  }
}

/** Opens the knobs drawer (generator, faults, polling interval) if it is closed. */
export async function openKnobs(page: Page) {
  const button = page.getByTestId("knobs-open");
  const drawer = page.getByTestId("knobs-drawer");
  // A click before the page has hydrated does nothing: try again until the drawer is open.
  await expect(async () => {
    if ((await button.getAttribute("aria-expanded")) !== "true") await button.click();
    await expect(drawer).toBeVisible({ timeout: 1_000 });
  }).toPass();
}

/** Sequence numbers of the events a lane has drawn. */
export async function drawnSeqs(page: Page, transport: LaneId): Promise<number[]> {
  const values = await lane(page, transport)
    .locator('[data-testid="record"][data-kind="event"]')
    .evaluateAll((nodes) => nodes.map((node) => Number(node.getAttribute("data-seq"))));
  return values;
}

export async function metric(page: Page, transport: LaneId, name: string): Promise<string> {
  return (await lane(page, transport).getByTestId(`metric-${name}`).textContent()) ?? "";
}
