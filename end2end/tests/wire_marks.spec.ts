import { expect, test } from "@playwright/test";
import { drawnSeqs, lane, openLab, setGenerator } from "./helpers";

test.beforeEach(async ({ request }) => {
  expect((await request.delete("/api/faults")).status()).toBe(204);
  await setGenerator(request, { rate_per_second: 1, payload_bytes: 0, paused: false });
});

test("control marks: the server's ping and the browser's pong, both closes with their code, the TCP close; a toggle hides them", async ({ page }) => {
  // The server pings every WebSocket every 20 s (its default), so the first ping comes 20 s after the lane connects.
  test.setTimeout(90_000);
  const errors = await openLab(page);
  const socket = lane(page, "web_socket");
  const ping = socket.locator('[data-testid="record"][data-kind="ping"]');
  const pong = socket.locator('[data-testid="record"][data-kind="pong"]');
  await expect(ping.first()).toBeAttached({ timeout: 40_000 });
  await expect(pong.first()).toBeAttached();
  await expect(ping.first().locator("title")).toContainText("the server checks the connection is alive");
  // The ping goes right to left (server → browser), the browser's pong left to right.
  await expect(ping.first()).toHaveClass(/to-browser/);
  await expect(pong.first()).toHaveClass(/to-server/);

  await page.getByTestId("toggle-web_socket").uncheck();
  const closes = socket.locator('[data-testid="record"][data-kind="close-frame"]');
  await expect(closes).toHaveCount(2);
  await expect(closes.first().locator("title")).toContainText('close 1000 (normal closure) "closed by the page"');
  await expect(closes.first()).toHaveClass(/to-server/);
  await expect(closes.last()).toHaveClass(/to-browser/);
  await expect(socket.getByTestId("tcp-close").first()).toBeAttached();
  await expect(socket.locator('[data-kind="tcp-close"] title').first()).toContainText(/TCP #\d+ closed/);

  // A calm view: the marks go, the events stay; and they come back.
  const toggle = page.getByTestId("show-control-marks");
  await toggle.uncheck();
  await expect(ping).toHaveCount(0);
  await expect(closes).toHaveCount(0);
  await expect(socket.getByTestId("tcp-close")).toHaveCount(0);
  await expect(socket.locator('[data-kind="event"]').first()).toBeAttached();
  await toggle.check();
  await expect(closes).toHaveCount(2);
  expect(errors).toEqual([]);
});

test("the hex view of the WebSocket's binary audio frame names its 24-byte header's fields", async ({ page }) => {
  const errors = await openLab(page);
  const answered = page.waitForResponse((response) => response.url().endsWith("/api/audio"));
  await page.getByTestId("send-tone").click();
  const { seq } = await (await answered).json();
  await expect.poll(() => drawnSeqs(page, "web_socket")).toContain(seq);
  const arrow = lane(page, "web_socket").locator(`[data-testid="record"][data-kind="event"][data-seq="${seq}"]`);
  // Its bytes come by the side channel, once a second.
  await expect(async () => {
    await arrow.dispatchEvent("click");
    await expect(page.getByTestId("inspector-bytes")).toContainText("B on the wire", { timeout: 2_000 });
  }).toPass();
  const frame = page.locator('[data-testid="inspector-unit"][data-unit="frame"]');
  await frame.getByTestId("hex-view").locator("summary").click();
  const field = (name: string) => frame.locator(`[data-testid="hex-field"][data-name="${name}"]`);
  await expect(field("FIN · RSV1-3 · opcode")).toContainText("opcode 0x2 (binary)");
  // A binary frame over 65,535 bytes would need 64 bits; a tone's is 16: bytes 2–3.
  await expect(field("extended length")).toContainText("2–3");
  await expect(field("seq (u64)")).toContainText(`4–11 seq (u64): ${seq}`);
  await expect(field("emitted_at (u64, Unix µs)")).toContainText(/12–19 .*: 1\d{15}/);
  await expect(field("frequency_hz (u32)")).toContainText("20–23 frequency_hz (u32): 440");
  await expect(field("duration_ms (u32)")).toContainText("24–27 duration_ms (u32): 500");
  await expect(field("the WAV file")).toContainText("from its RIFF header");
  // The WAV starts right after the header: "RIFF" in the ASCII column of the second row.
  await expect(frame.locator(".hex-ascii").nth(1)).toContainText("RIFF");
  await expect(frame.getByTestId("hex-cut")).toContainText("as the server kept them");
  expect(errors).toEqual([]);
});
