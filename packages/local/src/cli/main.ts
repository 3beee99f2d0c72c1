#!/usr/bin/env node
/** `secondlook`: the command line for the local cloud (and, with --stage, a deployed stage). */
import { Command, InvalidArgumentError } from "commander";
import { type ReviewerAction, runReviewers } from "./reviewers";
import { DEFAULT_DATA_DIR, DEFAULT_PORT, DEFAULT_WEB_PORT, runStart } from "./start";

const port = (value: string) => {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0 || parsed > 65_535) {
    throw new InvalidArgumentError("a port is a whole number from 0 to 65535");
  }
  return parsed;
};

const program = new Command()
  .name("secondlook")
  .description("Continuous model improvement with a human in the loop, on AWS or on this machine.")
  .showHelpAfterError();

program
  .command("start")
  .description(
    "Start the local cloud (AWS edge, reviewer portal) and run the demo review loop on first start.",
  )
  .option(
    "--port <port>",
    "AWS edge port (env SECONDLOOK_PORT)",
    port,
    envPort("SECONDLOOK_PORT", DEFAULT_PORT),
  )
  .option(
    "--web-port <port>",
    "reviewer portal port (env SECONDLOOK_WEB_PORT)",
    port,
    envPort("SECONDLOOK_WEB_PORT", DEFAULT_WEB_PORT),
  )
  .option(
    "--data <dir>",
    "data folder (env SECONDLOOK_DATA)",
    process.env.SECONDLOOK_DATA ?? DEFAULT_DATA_DIR,
  )
  .option("--host <host>", "address to bind (127.0.0.1 keeps it on this machine)", "127.0.0.1")
  .option("--no-demo", "do not generate and upload the demo data set on first start")
  .action(async (options: { port: number; webPort: number; data: string; host: string; demo: boolean }) => {
    await runStart(options);
  });

program
  .command("reviewers")
  .description("Manage reviewer accounts of the local portal.")
  .argument("<action>", "add | remove | reset | list", (value: string) => {
    if (!["add", "remove", "reset", "list"].includes(value)) {
      throw new InvalidArgumentError("choose add, remove, reset or list");
    }
    return value as ReviewerAction;
  })
  .argument("[username]", "the reviewer's user name")
  .option(
    "--data <dir>",
    "data folder (env SECONDLOOK_DATA)",
    process.env.SECONDLOOK_DATA ?? DEFAULT_DATA_DIR,
  )
  .option("--json", "print JSON for scripts", false)
  .action(
    async (
      action: ReviewerAction,
      username: string | undefined,
      options: { data: string; json: boolean },
    ) => {
      const webPort = envPort("SECONDLOOK_WEB_PORT", DEFAULT_WEB_PORT);
      process.stdout.write(`${await runReviewers(action, username, { ...options, webPort })}\n`);
    },
  );

function envPort(name: string, fallback: number) {
  const value = process.env[name];
  if (value === undefined || value === "") return fallback;
  try {
    return port(value);
  } catch {
    console.error(`${name}=${value} is not a port; using ${fallback}`);
    return fallback;
  }
}

program.parseAsync().catch((error: Error) => {
  console.error(`secondlook: ${error.message}`);
  process.exit(1);
});
