/**
 * Builds what `npm start` and the `secondlook` CLI run: the local cloud bundled by esbuild into
 * plain JavaScript under dist/. Running the TypeScript sources through a loader (tsx) kept a second
 * JavaScript thread and every module's source map alive, about 60 MB of the process's memory, and
 * its keep-names helpers ran on every closure the engine creates. Our packages (@secondlook/*) go
 * into the bundle; everything from node_modules stays external and loads as usual.
 *
 * `ensureBuilt()` rebuilds only when a source file the last build read has changed, so the CLI
 * pays a few file stats per command. Tests and benchmarks build into folders of their own.
 */
import {
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build } from "esbuild";

const HERE = dirname(fileURLToPath(import.meta.url));
export const DIST = join(HERE, "dist");
/**
 * The worker threads' modules, named as their source stand-ins are (`new URL("./<name>.mjs",
 * import.meta.url)` finds either): the detector's (rekognition/pool.ts) and the Lambda sandboxes'
 * (lambda/invoker.ts). Every bundle that can start a local cloud needs them beside it.
 */
export const WORKER_ENTRIES = {
  "worker-entry": join(HERE, "src", "rekognition", "worker.ts"),
  "sandbox-entry": join(HERE, "src", "lambda", "sandbox.ts"),
};
/** The bundles `npm start` runs. */
export const LOCAL_ENTRIES = { secondlook: join(HERE, "src", "cli", "main.ts"), ...WORKER_ENTRIES };
const META = "build-meta.json";

/**
 * How the built cloud is run (the npm bin, the benchmarks). libuv sizes its thread pool once, at
 * first use, from UV_THREADPOOL_SIZE; its default of 4 threads is shared by history fdatasyncs,
 * every local S3 file operation and sharp, and left the local cloud idle waiting for a thread
 * (bench/perf.ts). glibc gives each thread that allocates its own malloc arenas, and sharp's
 * buffers spread over 16 threads' arenas raised peak RSS; two arenas keep it flat. V8 lets the old
 * generation grow to up to four times what survived the last full collection before it collects
 * again: over a long batch the process held a hundred megabytes and more of garbage; growing by
 * half at most bounds that at the price of more (concurrent) marking (bench/perf.ts). Each is read
 * only at startup, so the process gets them unless the user chose otherwise.
 */
export function runSettings(env = process.env) {
  return {
    execArgv: ["--heap-growing-percent=50"],
    env: {
      ...env,
      UV_THREADPOOL_SIZE: env.UV_THREADPOOL_SIZE || "16",
      MALLOC_ARENA_MAX: env.MALLOC_ARENA_MAX || "2",
    },
  };
}

/** Bare imports stay external, except our own workspaces, which are TypeScript to be bundled. */
const externalDependencies = {
  name: "external-dependencies",
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) =>
      args.path.startsWith("@secondlook/") ? undefined : { path: args.path, external: true },
    );
  },
};

/**
 * Bundles `entries` ({ name: source file }) into `outdir` as `<name>.mjs`. Files are written under
 * temporary names and renamed, so a process starting meanwhile, or a second build racing this one,
 * never reads a half-written bundle.
 */
export async function buildBundles({ entries, outdir }) {
  mkdirSync(outdir, { recursive: true });
  // Anything changed from here on is newer than this build.
  const builtAt = Date.now();
  const result = await build({
    absWorkingDir: HERE,
    entryPoints: entries,
    outdir,
    outExtension: { ".js": ".mjs" },
    bundle: true,
    platform: "node",
    format: "esm",
    // Lazily imported modules (the CLI's commands, the handlers) stay lazy: in chunks of their own,
    // beside the entries, so that `new URL("./worker-entry.mjs", import.meta.url)` in any of them
    // finds the worker's bundle as it finds the source stand-in (rekognition/pool.ts).
    splitting: true,
    target: "node20",
    sourcemap: "linked",
    metafile: true,
    write: false,
    logLevel: "warning",
    plugins: [externalDependencies],
  });
  const suffix = `.tmp-${process.pid}-${Date.now()}`;
  for (const file of result.outputFiles) {
    writeFileSync(`${file.path}${suffix}`, file.contents);
    renameSync(`${file.path}${suffix}`, file.path);
  }
  removeOldChunks(
    outdir,
    result.outputFiles.map((file) => file.path),
  );
  const inputs = Object.keys(result.metafile.inputs).map((input) => resolve(HERE, input));
  const meta = join(outdir, META);
  writeFileSync(`${meta}${suffix}`, JSON.stringify({ builtAt, inputs }));
  renameSync(`${meta}${suffix}`, meta);
  return outdir;
}

/** How long a chunk no build refers to is kept: a process started from an older build may still load it. */
const OLD_CHUNK_MS = 24 * 60 * 60 * 1000;

/** Deletes chunks that the build just written does not use, once they are a day old. */
function removeOldChunks(outdir, written) {
  const keep = new Set(written.map((file) => resolve(file)));
  for (const name of readdirSync(outdir)) {
    const file = join(outdir, name);
    if (keep.has(file) || !/\.mjs(\.map)?$/.test(name)) continue;
    try {
      if (Date.now() - statSync(file).mtimeMs > OLD_CHUNK_MS) unlinkSync(file);
    } catch {
      // Another build removed it first.
    }
  }
}

/** Whether a bundle in `outdir` is missing or older than any source it was built from. */
export function isStale(outdir, entries) {
  let meta;
  try {
    meta = JSON.parse(readFileSync(join(outdir, META), "utf8"));
    for (const name of Object.keys(entries)) statSync(join(outdir, `${name}.mjs`));
  } catch {
    return true;
  }
  const sources = [...meta.inputs, fileURLToPath(import.meta.url), join(HERE, "package.json")];
  for (const input of sources) {
    try {
      if (statSync(input).mtimeMs > meta.builtAt) return true;
    } catch {
      return true;
    }
  }
  return false;
}

/**
 * Runs worker `name` of WORKER_ENTRIES in this worker thread, for the stand-ins beside the sources
 * (rekognition/worker-entry.mjs, lambda/sandbox-entry.mjs) used when the local cloud runs from its
 * TypeScript sources (tests, tsx): a worker thread starts in bare Node. It runs the built worker
 * when the bundle is current (the tests' global setup builds it), which starts in a fraction of the
 * time, and otherwise loads the worker's source (and what it imports) through tsx.
 */
export async function runWorkerEntry(name) {
  if (isStale(DIST, LOCAL_ENTRIES)) {
    const { tsImport } = await import("tsx/esm/api");
    await tsImport(pathToFileURL(WORKER_ENTRIES[name]).href, import.meta.url);
  } else {
    await import(pathToFileURL(join(DIST, `${name}.mjs`)).href);
  }
}

/** Builds the local cloud's bundles into dist/ unless they are up to date; returns the CLI's file. */
export async function ensureBuilt() {
  if (isStale(DIST, LOCAL_ENTRIES)) await buildBundles({ entries: LOCAL_ENTRIES, outdir: DIST });
  return join(DIST, "secondlook.mjs");
}

// `node packages/local/build.mjs` builds (or checks) dist/ by hand.
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const file = await ensureBuilt();
  console.log(`built ${relative(process.cwd(), file)}`);
}
