import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["packages/*/test/**/*.test.ts", "stacks/**/*.test.ts", "statemachines/**/*.test.ts"],
    // End-to-end suites start servers and a browser; a 2-core CI machine needs room.
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: "forks",
    // The CLI's tests run what users run: the bundle packages/local/build.mjs makes.
    globalSetup: ["./packages/local/test/support/build-once.ts"],
    // Tests change a setting and act on it at once (and child processes they spawn inherit this),
    // and a shrunken timeScale runs the idle check within seconds; with Powertools' 30 s settings
    // cache, a check that ran before a model was promoted would hide the promotion from the handlers.
    env: { POWERTOOLS_PARAMETERS_MAX_AGE: "0" },
  },
});
