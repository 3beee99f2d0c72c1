/** Progress output: a bar on a terminal, a few plain lines in a log, nothing with --json. */
import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import type { StateCounts } from "../../src/cli/follow";
import { createProgress, progressMode } from "../../src/cli/progress";

/** The start of a terminal control sequence (colours, cursor moves). */
const ESCAPE = "\u001b[";

const counts = (overrides: Partial<StateCounts> = {}): StateCounts => ({
  pending: 0,
  running: 0,
  "waiting-for-review": 0,
  "auto-labeled": 0,
  "human-labeled": 0,
  skipped: 0,
  "no-answer": 0,
  failed: 0,
  ...overrides,
});

function capture() {
  const stream = new PassThrough();
  let text = "";
  stream.on("data", (chunk: Buffer) => {
    text += chunk.toString("utf8");
  });
  return { stream, text: () => text };
}

describe("progress", () => {
  it("picks the bar for a terminal, lines for a pipe, and silence for JSON", () => {
    // Act
    const modes = [
      progressMode({ isTTY: true }, false),
      progressMode({ isTTY: false }, false),
      progressMode({}, false),
      progressMode({ isTTY: true }, true),
    ];

    // Assert
    expect(modes).toEqual(["bar", "lines", "lines", "silent"]);
  });

  it("prints a line only when the counts change, at most every two seconds, and the last one at the end", () => {
    // Arrange
    let now = 0;
    const out = capture();
    const progress = createProgress("lines", out.stream, () => now);

    // Act
    progress.phase("Following", 3);
    now = 2_000;
    progress.update(0, counts({ running: 3 }));
    now = 2_100;
    progress.update(0, counts({ running: 3 }));
    now = 2_200;
    progress.update(1, counts({ running: 2, "auto-labeled": 1 }));
    now = 2_300;
    progress.update(2, counts({ running: 1, "auto-labeled": 1, "waiting-for-review": 1 }));
    progress.stop();

    // Assert
    expect(out.text().split("\n")).toEqual([
      "Following 3 image(s) …",
      "Following: 0/3 (auto-labeled 0, reviewed 0, waiting for review 0, failed 0)",
      "Following: 2/3 (auto-labeled 1, reviewed 0, waiting for review 1, failed 0)",
      "",
    ]);
    expect(out.text()).not.toContain("\r");
    expect(out.text()).not.toContain(ESCAPE);
  });

  it("prints nothing at all in silent mode", () => {
    // Arrange
    const out = capture();
    const progress = createProgress("silent", out.stream);

    // Act
    progress.phase("Uploading", 2);
    progress.update(1);
    progress.stop();

    // Assert
    expect(out.text()).toBe("");
  });

  it("draws a bar with the counts for a terminal", () => {
    // Arrange
    const out = capture();
    const progress = createProgress("bar", Object.assign(out.stream, { isTTY: true }));

    // Act
    progress.phase("Following", 4);
    progress.update(3, counts({ "auto-labeled": 2, "human-labeled": 1, "waiting-for-review": 1 }));
    progress.stop();

    // Assert
    expect(out.text()).toContain("3/4 | auto-labeled 2 | reviewed 1 | waiting 1 | failed 0");
  });
});
