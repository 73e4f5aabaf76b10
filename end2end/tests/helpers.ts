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
  return errors;
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
