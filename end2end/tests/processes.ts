import { ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createServer, Socket } from "node:net";
import { delimiter, join } from "node:path";

// Processes a spec starts for itself on free ports: the lab's own release build with flags of its own, and the
// Debian programs ./lab setup installs (nats-server, HAProxy).

export const ROOT = join(__dirname, "..", "..");

/** What the release server needs to find the page's files when started outside cargo-leptos. */
export const SITE_ENV = { LEPTOS_OUTPUT_NAME: "transport-lab", LEPTOS_SITE_ROOT: "target/site", LEPTOS_SITE_PKG_DIR: "pkg" };

export const LAB_SERVER = join(ROOT, "target", "release", "server");

export function program(name: string): string {
  const dirs = [...(process.env.PATH ?? "").split(delimiter), "/usr/sbin", "/usr/bin"];
  const found = dirs.map((d) => join(d, name)).find((candidate) => existsSync(candidate));
  if (!found) throw new Error(`${name} is not installed; ./lab setup installs it`);
  return found;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

async function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    socket.once("connect", () => (socket.destroy(), resolve(true)));
    socket.once("error", () => resolve(false));
    socket.connect(port, "127.0.0.1");
  });
}

/** Starts `command` from the repository's root and waits until it listens on `port`. */
export async function startListening(
  command: string,
  args: string[],
  port: number,
  env: NodeJS.ProcessEnv = {},
): Promise<ChildProcess> {
  const child = spawn(command, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: "ignore" });
  const deadline = Date.now() + 20_000;
  while (!(await listening(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`${command} did not start on ${port}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return child;
}
