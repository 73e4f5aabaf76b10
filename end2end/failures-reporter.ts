import * as fs from "node:fs";
import * as path from "node:path";
import type { FullConfig, Reporter, Suite, TestError } from "@playwright/test/reporter";

// cargo-leptos ends a failed run with its own backtraces, which push the list reporter's summary out of the tail
// a CI log keeps. This writes the failures to a file that `./lab test` prints last.
export const FAILURES_FILE = "test-results/failures.txt";

const ANSI = /\u001b\[[0-9;]*m/g;

/// The first lines of an error, without the terminal's colours.
function firstLines(message: string): string {
  return message.replace(ANSI, "").split("\n").slice(0, 12).join("\n    ");
}

export default class FailuresReporter implements Reporter {
  private file = FAILURES_FILE;
  private suite?: Suite;
  // Errors outside any test: a spec that does not load, a global timeout.
  private errors: string[] = [];

  onBegin(config: FullConfig, suite: Suite) {
    this.file = path.join(config.configFile ? path.dirname(config.configFile) : process.cwd(), FAILURES_FILE);
    this.suite = suite;
  }

  onError(error: TestError) {
    this.errors.push(`✘ ${firstLines(error.message ?? String(error.value))}`);
  }

  onEnd() {
    // Per test, not per attempt: a test that passed on a retry is flaky, not failed, and one that kept failing
    // is listed once, with its last attempt's error.
    const failures = (this.suite?.allTests() ?? [])
      .filter((test) => test.outcome() === "unexpected")
      .map((test) => {
        const last = test.results[test.results.length - 1];
        const where = `${path.basename(test.location.file)}:${test.location.line}`;
        const seconds = Math.round((last?.duration ?? 0) / 100) / 10;
        return `✘ ${where} › ${test.title} (${last?.status}, ${seconds} s)\n    ${firstLines(last?.errors[0]?.message ?? "")}`;
      });
    const all = [...this.errors, ...failures];
    if (all.length === 0) {
      fs.rmSync(this.file, { force: true });
      return;
    }
    fs.mkdirSync(path.dirname(this.file), { recursive: true });
    fs.writeFileSync(this.file, all.join("\n\n") + "\n");
  }
}
