// A Lambda sandbox stand-in for invoker tests: it says it is ready, like the real one, then its
// process-level runtime exits on the first invocation, as one does on an uncaught fatal error.
import { parentPort } from "node:worker_threads";

parentPort.on("message", (message) => {
  if (message.kind === "request") process.exit(3);
});
parentPort.postMessage({ kind: "ready" });
