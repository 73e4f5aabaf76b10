import { defineConfig } from "@playwright/test";

// cargo-leptos starts the server before running these and stops it after. Tests share one server (and its
// /api/stats counters), so they run one at a time.
export default defineConfig({
  testDir: "./tests",
  timeout: 60_000,
  expect: { timeout: 15_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  forbidOnly: !!process.env.CI,
  reporter: [["list"], ["./failures-reporter.ts"]],
  use: {
    // LEPTOS_SITE_ADDR lets a second checkout run its tests beside a running lab.
    baseURL: `http://${process.env.LEPTOS_SITE_ADDR ?? "127.0.0.1:3000"}`,
    trace: "retain-on-failure",
    launchOptions: {
      // Debian's Chromium; Playwright must never download its own browser here.
      executablePath: "/usr/bin/chromium",
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    },
  },
  projects: [{ name: "chromium" }],
});
