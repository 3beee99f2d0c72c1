#!/usr/bin/env node
/**
 * `secondlook`: the command line for the local cloud and, with --stage, a deployed stage.
 * Exit codes: 0 ok, 1 something in the run failed, 2 usage or input, 3 unreachable or credentials.
 */
import type { HumanLoopStatus } from "@aws-sdk/client-sagemaker-a2i-runtime";
import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import {
  DEFAULT_DATA_DIR,
  DEFAULT_PORT,
  DEFAULT_WEB_PORT,
  defaultLocalEndpoint,
  LOOP_STATUSES,
} from "./defaults";
import { CliError, ExitCode, explain, RunFailedError } from "./errors";
import type { ReviewerAction } from "./reviewers";
import type { Target, TargetOptions } from "./target";

// Command modules load on demand: the AWS SDK clients, the table renderer and the local cloud
// take a second or more to import, which --help and usage errors should not pay for.

const port = (value: string) => {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0 || parsed > 65_535) {
    throw new InvalidArgumentError("a port is a whole number from 0 to 65535");
  }
  return parsed;
};

const positive = (what: string) => (value: string) => {
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || parsed <= 0)
    throw new InvalidArgumentError(`${what} must be a positive number`);
  return parsed;
};

const endpointUrl = (value: string) => {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidArgumentError("give a URL such as http://127.0.0.1:4747");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new InvalidArgumentError("the endpoint must be an http:// or https:// URL");
  }
  return value.replace(/\/+$/, "");
};

const stageName = (value: string) => {
  // SST stage names end up in stack names, which allow letters, digits and hyphens.
  if (!/^[A-Za-z][A-Za-z0-9-]*$/.test(value)) {
    throw new InvalidArgumentError("a stage name is letters, digits and hyphens, starting with a letter");
  }
  return value;
};

interface CommonOptions extends TargetOptions {
  json: boolean;
}

/** Adds the options that choose where a command runs, and --json. */
function targeted(command: Command) {
  return command
    .option(
      "--endpoint-url <url>",
      `the local cloud's AWS edge (default ${defaultLocalEndpoint()}, env SECONDLOOK_PORT); with --stage, a custom AWS endpoint`,
      endpointUrl,
    )
    .option(
      "--stage <stage>",
      "a deployed stage on AWS: credentials and region from the environment and profile, resources from its stack outputs",
      stageName,
    )
    .option("--json", "print JSON for scripts", false);
}

/** Resolves the target, runs `work` against it, and turns SDK failures into CLI errors. */
async function withTarget<T>(options: TargetOptions, work: (target: Target) => Promise<T>): Promise<T> {
  const { resolveTarget } = await import("./target");
  const target = await resolveTarget(options);
  try {
    return await work(target);
  } catch (error) {
    throw explain(error, target);
  } finally {
    target.close();
  }
}

const program = new Command()
  .name("secondlook")
  .description(
    "Continuous model improvement with a human in the loop, on AWS or on this machine.\n" +
      "Exit codes: 0 ok, 1 failures in the run, 2 usage or input, 3 endpoint unreachable or credentials.",
  )
  .showHelpAfterError()
  // Usage errors must exit 2, not commander's 1; see the catch at the bottom.
  .exitOverride();

/** `start` serves until stopped; every other command exits when its work is done. */
let keepRunning = false;

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
    keepRunning = true;
    // Loaded on demand: only `start` needs the whole local cloud.
    const { runStart } = await import("./start");
    await runStart(options);
  });

targeted(
  program
    .command("run")
    .description(
      "Upload the images of a folder under images_for_detection/ and follow their review-image executions, or run a manifest (Ground Truth JSON Lines with source-ref, CSV with a source-ref column, or a JSON array) through review-batch: its images are staged under batch-inputs/, the manifest goes to manifests/, and the batch's map run is followed.",
    )
    .argument("<folder|manifest>", "a folder of PNG/JPEG images, or a manifest file")
    .option("--wait", "keep following until every human review is answered", false)
    .option(
      "--timeout <seconds>",
      "stop following after this long (default 600, or no limit with --wait)",
      positive("the timeout"),
    ),
).action(async (path: string, options: CommonOptions & { wait: boolean; timeout?: number }) => {
  const [{ readRunInput }, { formatRunSummary, runFailed, runImages }, { createProgress, progressMode }] =
    await Promise.all([import("./inputs"), import("./run"), import("./progress")]);
  const { printJson, say } = await import("./output");
  // The input is checked first: a wrong path is reported even when no cloud is running.
  const input = await readRunInput(path);
  const summary = await withTarget(options, (target) =>
    runImages(target, input, {
      wait: options.wait,
      timeoutSeconds: options.timeout ?? (options.wait ? Number.POSITIVE_INFINITY : 600),
      // The local cloud answers at once; AWS APIs are rate-limited per account.
      pollMs: target.endpoint ? 500 : 2_000,
      progress: createProgress(progressMode(process.stdout, options.json), process.stdout),
    }),
  );
  if (options.json) printJson(summary);
  else say(formatRunSummary(summary));
  if (runFailed(summary)) {
    throw new RunFailedError(
      summary.timedOut
        ? `stopped following after the timeout with ${summary.counts.pending + summary.counts.running + summary.counts["waiting-for-review"]} image(s) not finished`
        : `${summary.counts.failed} of ${summary.counts.total} image(s) failed`,
    );
  }
});

targeted(
  program
    .command("status")
    .description(
      "Show the state machines and their executions by status, the human loops waiting, and the active model with its F1.",
    ),
).action(async (options: CommonOptions) => {
  const [{ formatStatus, getStatus }, { printJson, say }] = await Promise.all([
    import("./status"),
    import("./output"),
  ]);
  const status = await withTarget(options, getStatus);
  if (options.json) printJson(status);
  else say(formatStatus(status));
});

targeted(
  program
    .command("loops")
    .description("List human loops, newest first, with their status, image and reviewers' answers.")
    .addOption(new Option("--status <status>", "only loops with this status").choices(LOOP_STATUSES))
    .option("--limit <count>", "show at most this many loops", positive("the limit"), 50),
).action(async (options: CommonOptions & { status?: HumanLoopStatus; limit: number }) => {
  const [{ formatLoops, listLoops }, { printJson, say }] = await Promise.all([
    import("./loops"),
    import("./output"),
  ]);
  const rows = await withTarget(options, (target) =>
    listLoops(target, { status: options.status, limit: Math.floor(options.limit) }),
  );
  if (options.json) printJson(rows);
  else say(formatLoops(rows));
});

const settings = program
  .command("settings")
  .description(
    "Read or change the stage's settings (SSM parameters), validated like the handlers read them.",
  );

targeted(
  settings
    .command("get")
    .description("Show every setting, or one setting's value.")
    .argument("[name]", "a setting, such as min-confidence (or minConfidence)"),
).action(async (name: string | undefined, options: CommonOptions) => {
  const [{ formatSettings, getSettings }, { printJson, say }] = await Promise.all([
    import("./settings"),
    import("./output"),
  ]);
  const rows = await withTarget(options, (target) => getSettings(target, name));
  if (options.json) printJson(name === undefined ? rows : rows[0]);
  else say(formatSettings(rows, name !== undefined));
});

targeted(
  settings
    .command("set")
    .description("Change one setting; the value is checked against the settings schema before it is written.")
    .argument("<name>", "a setting, such as min-confidence (or minConfidence)")
    .argument("<value>", 'its new value, such as 80, true, or ["Acme","Globex"] for labels'),
).action(async (name: string, value: string, options: CommonOptions) => {
  const [{ setSetting }, { printJson, say }] = await Promise.all([import("./settings"), import("./output")]);
  const result = await withTarget(options, (target) => setSetting(target, name, value));
  if (options.json) printJson(result);
  else
    say(
      `Set ${result.parameter} = ${Array.isArray(result.value) ? JSON.stringify(result.value) : result.value}`,
    );
});

targeted(
  program
    .command("demo")
    .description(
      "Regenerate the synthetic logo data set: into a folder with --out, or into the running local cloud (train, promote, and send the new images for review).",
    )
    .option("--out <folder>", "write the images to this folder instead of the local cloud")
    .option("--seed <number>", "the data set's random seed (npm start uses 7)", positive("the seed"), 7),
).action(async (options: CommonOptions & { out?: string; seed: number }) => {
  const [{ loadDemoIntoCloud, writeDemoFolder }, { printJson, say }] = await Promise.all([
    import("./demo"),
    import("./output"),
  ]);
  const seed = Math.floor(options.seed);
  if (options.out) {
    const written = await writeDemoFolder(options.out, seed);
    if (options.json) printJson(written);
    else {
      say(
        `Wrote ${written.labeled} labeled images (${written.labels.join(", ")}), ${written.negatives} None of the Above examples and ${written.inference} images to review to ${written.folder}.`,
      );
      say(`Send them with: secondlook run ${written.folder}/inference  (answer-key.csv has the true labels)`);
    }
    return;
  }
  if (!options.json) say("Generating the demo data set, training and promoting a model …");
  const loaded = await withTarget(options, (target) => loadDemoIntoCloud(target, seed, new Date()));
  if (options.json) printJson(loaded);
  else {
    say(
      `Trained ${loaded.versionArn} (F1 ${loaded.f1?.toFixed(3) ?? "n/a"}) on ${loaded.labeled} images of ${loaded.labels.join(", ")}; it is the active model.`,
    );
    say(`Uploaded ${loaded.uploaded} images for review; follow them with: secondlook status`);
  }
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
      const { runReviewers } = await import("./reviewers");
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

/** The exit code for what a command threw; prints the one-line reason (commander prints its own). */
function exitCodeOf(error: unknown): number {
  if (error instanceof CommanderError) {
    // Asked-for help and --version are successes; every other commander error is a usage mistake.
    return error.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
  }
  if (error instanceof CliError) {
    console.error(`secondlook: ${error.message}`);
    return error.exitCode;
  }
  console.error(`secondlook: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`);
  return ExitCode.runFailed;
}

program.parseAsync().then(
  () => {
    if (!keepRunning) process.exit(ExitCode.ok);
  },
  (error: unknown) => process.exit(exitCodeOf(error)),
);
