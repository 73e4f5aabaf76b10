import * as fs from "node:fs";
import * as path from "node:path";
import type { FullConfig, Reporter, TestCase, TestResult } from "@playwright/test/reporter";

// cargo-leptos ends a failed run with its own backtraces, which push the list reporter's summary out of the tail
// a CI log keeps. This writes the failures to a file that `./lab test` prints last.
export const FAILURES_FILE = "test-results/failures.txt";

const ANSI = /\u001b\[[0-9;]*m/g;

export default class FailuresReporter implements Reporter {
  private file = FAILURES_FILE;
  private failures: string[] = [];

  onBegin(config: FullConfig) {
    this.file = path.join(config.configFile ? path.dirname(config.configFile) : process.cwd(), FAILURES_FILE);
  }

  onTestEnd(test: TestCase, result: TestResult) {
    if (result.status === test.expectedStatus || result.status === "skipped") return;
    const where = `${path.basename(test.location.file)}:${test.location.line}`;
    const firstError = (result.errors[0]?.message ?? result.status).replace(ANSI, "").split("\n").slice(0, 12).join("\n    ");
    this.failures.push(`✘ ${where} › ${test.title} (${result.status}, ${Math.round(result.duration / 100) / 10} s)\n    ${firstError}`);
  }

  onEnd() {
    if (this.failures.length === 0) {
      fs.rmSync(this.file, { force: true });
      return;
    }
    fs.mkdirSync(path.dirname(this.file), { recursive: true });
    fs.writeFileSync(this.file, this.failures.join("\n\n") + "\n");
  }
}
