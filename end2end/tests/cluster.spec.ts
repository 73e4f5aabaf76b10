import { expect, Page, test } from "@playwright/test";
import { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { drawnSeqs, lane, metric, TRANSPORTS } from "./helpers";
import { freePort, LAB_SERVER, program, SITE_ENV, startListening } from "./processes";

// The lab as `./lab cluster` runs it: nats-server with JetStream, three instances of the release build sharing
// their log on it, and HAProxy round-robin in front, all started here on free ports (Debian's packages, installed
// by ./lab setup). A page behind HAProxy must keep every lane at 0 missed while the instance holding its SSE
// stream is killed with SIGKILL, and each lane must say which instance served it.

const processes: ChildProcess[] = [];
const instances = new Map<string, ChildProcess>();
let dir = "";
let front = "";
const TEACHER_KEY = "cluster-spec-teacher-key";
let nats: { child: ChildProcess; args: string[]; port: number } | undefined;

async function start(command: string, args: string[], port: number, env: NodeJS.ProcessEnv = {}): Promise<ChildProcess> {
  const child = await startListening(command, args, port, env);
  processes.push(child);
  return child;
}

test.beforeAll(async () => {
  test.setTimeout(90_000);
  dir = mkdtempSync(join(tmpdir(), "lab-cluster-"));
  const natsPort = await freePort();
  const natsArgs = ["-js", "-sd", join(dir, "nats"), "-a", "127.0.0.1", "-p", String(natsPort)];
  nats = { child: await start(program("nats-server"), natsArgs, natsPort), args: natsArgs, port: natsPort };
  const servers: string[] = [];
  for (const name of ["lab-1", "lab-2", "lab-3"]) {
    const port = await freePort();
    const args = ["--addr", `127.0.0.1:${port}`, "--backplane", `nats://127.0.0.1:${natsPort}`, "--instance", name];
    // Several instances ask for the teacher's key (one key for all); the test sets the generator as the teacher.
    args.push("--teacher-key", TEACHER_KEY);
    instances.set(name, await start(LAB_SERVER, args, port, SITE_ENV));
    servers.push(`    server ${name} 127.0.0.1:${port} check inter 200 fall 2 rise 1`);
  }
  const frontPort = await freePort();
  // The configuration ./lab cluster writes (tools/cluster.sh).
  const config = [
    "global",
    "    maxconn 2000",
    "defaults",
    "    mode http",
    "    timeout connect 1s",
    "    timeout client 1h",
    "    timeout server 1h",
    "    timeout tunnel 1h",
    "    timeout http-request 10s",
    "    option redispatch",
    "    retries 3",
    "    option http-no-delay",
    "frontend lab",
    `    bind 127.0.0.1:${frontPort}`,
    "    default_backend instances",
    "backend instances",
    "    balance roundrobin",
    "    option httpchk GET /api/time",
    ...servers,
    "",
  ].join("\n");
  writeFileSync(join(dir, "haproxy.cfg"), config);
  await start(program("haproxy"), ["-f", join(dir, "haproxy.cfg"), "-db"], frontPort);
  front = `http://127.0.0.1:${frontPort}`;
});

test.afterAll(() => {
  for (const child of processes) child.kill("SIGKILL");
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function instanceOf(page: Page, transport: (typeof TRANSPORTS)[number]): Promise<string> {
  return (await lane(page, transport).getByTestId("lane-instance").textContent()) ?? "";
}

test("behind HAProxy every lane says which instance served it and misses nothing while one is killed", async ({ page, request }) => {
  test.slow();
  await request.post(`${front}/api/generator`, {
    data: { rate_per_second: 5, paused: false },
    headers: { "x-lab-teacher": TEACHER_KEY },
  });
  await page.goto(`${front}/`);
  for (const transport of TRANSPORTS) {
    await expect(lane(page, transport).getByTestId("lane-instance")).toHaveText(/^lab-[123]$/, { timeout: 20_000 });
  }
  // Round robin: the short polls' answers come from more than one instance, each arrow naming its own.
  await expect
    .poll(
      async () => {
        const titles = await lane(page, "short_poll")
          .locator('[data-testid="record"] title')
          .allTextContents();
        return new Set(titles.flatMap((title) => title.match(/lab-[123]/g) ?? [])).size;
      },
      { timeout: 20_000 },
    )
    .toBeGreaterThan(1);

  const victim = await instanceOf(page, "sse");
  const seqBefore = Math.max(...(await drawnSeqs(page, "sse")));
  instances.get(victim)!.kill("SIGKILL");

  // The stream resumes on another instance, and the events go on past the kill on every lane.
  await expect(lane(page, "sse").getByTestId("lane-instance")).not.toHaveText(victim, { timeout: 30_000 });
  for (const transport of TRANSPORTS) {
    await expect
      .poll(async () => Math.max(0, ...(await drawnSeqs(page, transport))), { timeout: 30_000 })
      .toBeGreaterThan(seqBefore + 10);
  }
  for (const transport of TRANSPORTS) {
    expect(await metric(page, transport, "missed"), `${transport} missed nothing`).toBe("0");
    expect(await instanceOf(page, transport)).not.toBe(victim);
  }
});

test("while the shared log is out of reach every lane says so, and goes on with nothing missed when it is back", async ({ page, request }) => {
  test.slow();
  await request.post(`${front}/api/generator`, {
    data: { rate_per_second: 5, paused: false },
    headers: { "x-lab-teacher": TEACHER_KEY },
  });
  await page.goto(`${front}/`);
  for (const transport of TRANSPORTS) {
    await expect.poll(async () => (await drawnSeqs(page, transport)).length, { timeout: 20_000 }).toBeGreaterThan(2);
  }
  await expect(page.getByTestId("lane-log-problem")).toHaveCount(0);

  nats!.child.kill("SIGKILL");
  for (const transport of TRANSPORTS) {
    await expect(lane(page, transport).getByTestId("lane-log-problem")).toHaveText("log unavailable", { timeout: 20_000 });
  }
  const seqWhileDown = Math.max(...(await drawnSeqs(page, "web_socket")));

  // The same store directory: JetStream keeps the stream, so the run and its numbering go on.
  nats!.child = await start(program("nats-server"), nats!.args, nats!.port);
  await expect(page.getByTestId("lane-log-problem")).toHaveCount(0, { timeout: 30_000 });
  for (const transport of TRANSPORTS) {
    await expect
      .poll(async () => Math.max(0, ...(await drawnSeqs(page, transport))), { timeout: 30_000 })
      .toBeGreaterThan(seqWhileDown + 5);
    expect(await metric(page, transport, "missed"), `${transport} missed nothing`).toBe("0");
  }
});
