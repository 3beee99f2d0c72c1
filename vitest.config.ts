import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["packages/*/test/**/*.test.ts", "stacks/**/*.test.ts", "statemachines/**/*.test.ts"],
    // End-to-end suites start servers and a browser; a 2-core CI machine needs room.
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: "forks",
  },
});
