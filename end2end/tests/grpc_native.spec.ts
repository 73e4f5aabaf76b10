import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { expect, test } from "@playwright/test";
import { openLab } from "./helpers";

// Native gRPC cannot come from a page, so PyPI's grpcio (the Rust tests' peer, in the virtualenv `./lab setup`
// makes) calls the served lab over HTTP/2, and the page shows what the server recorded of that connection.

const repository = join(__dirname, "..", "..");
const address = process.env.LEPTOS_SITE_ADDR ?? "127.0.0.1:3000";

function grpcio(...args: string[]): string {
  const python = join(repository, ".venv", "bin", "python");
  const peer = join(repository, "server", "tests", "peers", "grpc_client.py");
  return execFileSync(python, [peer, args[0], address, ...args.slice(1)], { timeout: 30_000 }).toString();
}

test("a native call's HTTP/2 frames, as the server recorded them, open on the lab page", async ({ page }) => {
  // From just before its own message: after a long run, a subscription from 0 would bring thousands of messages
  // and push the connection's first frames out of the table's last 200 rows.
  const published = JSON.parse(grpcio("publish", "for the native table").trim()).seq as number;
  const lines = grpcio("subscribe", "--after", String(published - 1), "--count", "1")
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line));
  const seqs = lines.filter((line) => typeof line.seq === "number").map((line) => line.seq as number);
  expect(seqs).toEqual([published]);

  await openLab(page);
  const section = page.getByTestId("http2-wire");
  await section.locator("summary").click();
  await section.getByTestId("http2-wire-load").click();
  const table = section.getByTestId("http2-wire-table");
  await expect(table).toBeVisible({ timeout: 15_000 });
  for (const frame of ["PREFACE", "SETTINGS", "HEADERS", "WINDOW_UPDATE"]) {
    await expect(table.getByTestId("http2-wire-row").filter({ hasText: frame }).first()).toBeAttached();
  }
  await expect(table).toContainText("/lab.v1.Events/Subscribe");
  // The messages grpcio read, each named by the seq grpcio itself decoded.
  for (const seq of seqs) {
    await expect(table.getByTestId("http2-wire-row").filter({ hasText: `#${seq}` }).first()).toBeAttached();
  }
  // Every row names its TCP connection: HTTP/2 carries many calls on one, and two programs both use stream 1.
  await expect(table.locator("th", { hasText: "conn" })).toBeVisible();
  const totals = await table.getByTestId("http2-wire-totals").textContent();
  expect(totals).toMatch(/\d/);
  // A row opens its decode: a HEADERS frame's header block is head, HPACK-compressed.
  await table.getByTestId("http2-wire-row").filter({ hasText: "HEADERS" }).first().click();
  await expect(table.getByTestId("http2-wire-explained").first()).toContainText("HPACK");
});

test("the command the panel suggests names the address the page was opened at", async ({ page, baseURL }) => {
  // By another name for the same machine, so a command written for one fixed address would not match.
  const opened = new URL(baseURL!);
  opened.hostname = opened.hostname === "localhost" ? "127.0.0.1" : "localhost";
  await page.goto(opened.href);
  const section = page.getByTestId("http2-wire");
  await section.locator("summary").click();
  await expect(section.getByTestId("grpcurl-command")).toHaveText(`grpcurl -plaintext ${opened.host} lab.v1.Events/Subscribe`);
});
