/** Types of build.mjs, which stays plain JavaScript so the CLI can run it before anything is built. */
export declare const DIST: string;
export declare const WORKER_ENTRIES: Record<string, string>;
export declare const LOCAL_ENTRIES: Record<string, string>;
export declare function buildBundles(options: {
  entries: Record<string, string>;
  outdir: string;
}): Promise<string>;
export declare function isStale(outdir: string, entries: Record<string, string>): boolean;
export declare function ensureBuilt(): Promise<string>;
export declare function runWorkerEntry(name: string): Promise<void>;
export declare function runSettings(env?: NodeJS.ProcessEnv): { execArgv: string[]; env: NodeJS.ProcessEnv };
