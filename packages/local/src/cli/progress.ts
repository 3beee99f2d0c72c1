/**
 * Progress of a run: a live bar in a terminal, a few plain lines when the output is a file or a
 * pipe (CI logs stay short and greppable), nothing at all with --json.
 */
import { Presets, SingleBar } from "cli-progress";
import type { StateCounts } from "./follow";

export type ProgressMode = "bar" | "lines" | "silent";

export interface Progress {
  /** Begins a phase ("Uploading", "Following") of `total` steps. */
  phase(name: string, total: number): void;
  /** Reports `done` of the phase's steps, with the images' states while following. */
  update(done: number, counts?: StateCounts): void;
  /** Ends the current phase, leaving its last state on screen. */
  stop(): void;
}

/** The bar for a terminal, lines for anything else, silence for JSON output. */
export function progressMode(stream: { isTTY?: boolean }, json: boolean): ProgressMode {
  if (json) return "silent";
  return stream.isTTY ? "bar" : "lines";
}

/** How often the line mode may print while counts keep changing. */
const LINE_INTERVAL_MS = 2_000;

/** Describes the counts the way the summary names them. */
export function describeCounts(counts: StateCounts) {
  const reviewed = counts["human-labeled"] + counts.skipped + counts["no-answer"];
  return `auto-labeled ${counts["auto-labeled"]}, reviewed ${reviewed}, waiting for review ${counts["waiting-for-review"]}, failed ${counts.failed}`;
}

/** Creates the progress reporter for `mode`, writing to `stream`. */
export function createProgress(
  mode: ProgressMode,
  stream: NodeJS.WritableStream & { isTTY?: boolean },
  now: () => number = Date.now,
): Progress {
  if (mode === "silent") return { phase() {}, update() {}, stop() {} };
  if (mode === "bar") return barProgress(stream);

  let name = "";
  let total = 0;
  let last = "";
  let pending = "";
  let printedAt = Number.NEGATIVE_INFINITY;
  const print = (line: string) => {
    stream.write(`${line}\n`);
    last = line;
    pending = "";
    printedAt = now();
  };
  return {
    phase(phaseName, phaseTotal) {
      name = phaseName;
      total = phaseTotal;
      print(`${name} ${total} image(s) …`);
    },
    update(done, counts) {
      const line = `${name}: ${done}/${total}${counts ? ` (${describeCounts(counts)})` : ""}`;
      if (line === last) return;
      // Only on change and at most every LINE_INTERVAL_MS, so a log gets a handful of lines.
      if (now() - printedAt >= LINE_INTERVAL_MS) print(line);
      else pending = line;
    },
    stop() {
      if (pending) print(pending);
    },
  };
}

function barProgress(stream: NodeJS.WritableStream): Progress {
  let bar: SingleBar | undefined;
  const blank = { auto: 0, reviewed: 0, waiting: 0, failed: 0 };
  return {
    phase(name, total) {
      bar?.stop();
      bar = new SingleBar(
        {
          stream,
          // Short enough for an 80-column terminal; cli-progress cuts what does not fit.
          format: `${name.padEnd(10)} [{bar}] {value}/{total} | auto-labeled {auto} | reviewed {reviewed} | waiting {waiting} | failed {failed}`,
          barsize: 20,
          hideCursor: true,
          clearOnComplete: false,
          // The bar redraws in place only on a terminal; the caller picks lines otherwise.
          noTTYOutput: false,
        },
        Presets.shades_classic,
      );
      bar.start(total, 0, blank);
    },
    update(done, counts) {
      bar?.update(
        done,
        counts
          ? {
              auto: counts["auto-labeled"],
              reviewed: counts["human-labeled"] + counts.skipped + counts["no-answer"],
              waiting: counts["waiting-for-review"],
              failed: counts.failed,
            }
          : blank,
      );
    },
    stop() {
      bar?.stop();
      bar = undefined;
    },
  };
}
