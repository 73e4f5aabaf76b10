import { expect, Locator, test } from "@playwright/test";
import { drawnSeqs, lane, metric, openLab, setGenerator, TRANSPORTS } from "./helpers";

/** The clip's duration as the browser's own decoder reports it, once the element has read the file's header. */
async function decodedDuration(player: Locator): Promise<number> {
  return player.evaluate(
    (element: HTMLAudioElement) =>
      new Promise<number>((resolve, reject) => {
        if (element.readyState >= HTMLMediaElement.HAVE_METADATA) return resolve(element.duration);
        element.addEventListener("loadedmetadata", () => resolve(element.duration), { once: true });
        element.addEventListener("error", () => reject(new Error(`cannot decode: ${element.error?.message}`)), { once: true });
        element.load();
      }),
  );
}

test("a tone reaches every lane, smaller as a WebSocket binary frame than as base64 JSON, and plays", async ({ page, request }) => {
  await setGenerator(request, { rate_per_second: 1, payload_bytes: 0, paused: false });
  const errors = await openLab(page);
  for (const transport of TRANSPORTS) {
    await expect(lane(page, transport).getByTestId("metric-audio-bytes")).toHaveText("–");
    await expect(lane(page, transport).getByTestId("audio-player")).toHaveCount(0);
  }

  const answered = page.waitForResponse((response) => response.url().endsWith("/api/audio"));
  await page.getByTestId("send-tone").click();
  const response = await answered;
  expect(response.status()).toBe(202);
  const { seq } = await response.json();
  await expect(page.getByTestId("send-tone-result")).toHaveText(`sent as #${seq}`);

  const bytes: Record<string, number> = {};
  for (const transport of TRANSPORTS) {
    await expect.poll(() => drawnSeqs(page, transport), { message: `${transport} draws #${seq}` }).toContain(seq);
    const arrow = lane(page, transport).locator(`[data-testid="record"][data-kind="event"][data-seq="${seq}"]`);
    await expect(arrow.locator("title")).toContainText("audio");
    bytes[transport] = Number(await metric(page, transport, "audio-bytes"));
    expect(bytes[transport], `${transport} audio bytes`).toBeGreaterThan(0);
  }

  // The WebSocket frame is the WAV plus a 24-byte header; the JSON lanes carry it as base64 (4 characters per 3
  // bytes) plus a little JSON around it. Both are read from the page: the caption names the WAV's own size.
  const caption = await lane(page, "web_socket").getByTestId("audio-caption").textContent();
  const wavBytes = Number(/(\d+) B of WAV/.exec(caption ?? "")?.[1]);
  expect(bytes.web_socket).toBe(wavBytes + 24);
  for (const transport of ["short_poll", "long_poll", "sse"] as const) {
    const base64 = 4 * Math.ceil(wavBytes / 3);
    expect(bytes[transport] - base64, `${transport}: JSON around the base64`).toBeGreaterThan(0);
    expect(bytes[transport] - base64, `${transport}: JSON around the base64`).toBeLessThan(200);
    const saved = 1 - bytes.web_socket / bytes[transport];
    expect(saved, `WebSocket against ${transport}`).toBeGreaterThan(0.2);
    expect(saved, `WebSocket against ${transport}`).toBeLessThan(0.3);
  }

  // Each lane plays its own copy: a Blob URL of the bytes it received, which Chromium decodes as a 0.5 s WAV.
  for (const transport of TRANSPORTS) {
    const player = lane(page, transport).getByTestId("audio-player");
    await expect(player).toHaveAttribute("src", /^blob:/);
    expect(await decodedDuration(player), `${transport} clip duration`).toBeCloseTo(0.5, 2);
  }
  expect(errors).toEqual([]);
});
