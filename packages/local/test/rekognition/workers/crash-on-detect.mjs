// A stand-in detector worker for pool tests. The first one started dies on its first image, as a
// worker would on an out-of-memory error or a native crash; every later one is the real worker.
// Which one it is comes from a marker file the test names (worker threads share process.env).
import { existsSync, writeFileSync } from "node:fs";
import { parentPort } from "node:worker_threads";

const marker = process.env.SECONDLOOK_TEST_CRASH_MARKER;
if (!marker || existsSync(marker)) {
  await import(new URL("../../../src/rekognition/worker-entry.mjs", import.meta.url).href);
} else {
  writeFileSync(marker, "crashed once");
  parentPort.on("message", (message) => {
    if (message.kind === "request") process.exit(7);
  });
  parentPort.postMessage({ kind: "ready" });
}
