import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { HUMAN_REVIEW_TIMEOUT_SECONDS, StateMachines } from "@secondlook/core/blueprint";
import { ErrorNames } from "@secondlook/core/errors";
import aslValidator from "asl-validator";
import { JSONPath } from "jsonpath-plus";
import { describe, expect, it } from "vitest";
import { DefinitionSubstitutionKeys } from "../stacks/Review";

const DIR = path.dirname(fileURLToPath(import.meta.url));
const FILES = readdirSync(DIR).filter((file) => file.endsWith(".asl.json"));

type State = {
  Type: string;
  Resource?: string;
  Retry?: Catcher[];
  Catch?: Catcher[];
  [key: string]: unknown;
};
type Catcher = { ErrorEquals: string[] };
type Definition = { States: Record<string, State> };

const text = (file: string) => readFileSync(path.join(DIR, file), "utf8");
const definition = (file: string) => JSON.parse(text(file)) as Definition;

/** Error names AWS raises itself: Step Functions, Lambda invoke and AWS SDK integrations (`Service.Exception`). */
const AWS_ERROR_PREFIXES = ["States.", "Lambda.", "StepFunctions.", "Rekognition.", "Ssm.", "S3."];

/** Every state of a definition, including those nested in Map and Parallel branches. */
function allStates(root: unknown): [string, State][] {
  const groups = JSONPath({ path: "$..States", json: root as object }) as Record<string, State>[];
  return groups.flatMap((states) => Object.entries(states));
}

/** Names in ErrorEquals that are neither AWS's nor declared in core's ErrorNames. */
function unknownErrorNames(root: unknown): string[] {
  const known = new Set<string>(ErrorNames);
  return allStates(root)
    .flatMap(([, state]) => [...(state.Retry ?? []), ...(state.Catch ?? [])])
    .flatMap((catcher) => catcher.ErrorEquals)
    .filter((name) => !AWS_ERROR_PREFIXES.some((prefix) => name.startsWith(prefix)) && !known.has(name));
}

const placeholders = (source: string) =>
  [...source.matchAll(/\$\{([^}]+)\}/g)].map((match) => match[1] as string);
const isPascalCase = (name: string) => /^[A-Z][a-z0-9]+(?:[A-Z][a-z0-9]*)*$/.test(name);

describe("every workflow file", () => {
  it("there are workflow files to check, review-image among them", () => {
    // Arrange
    const expected = StateMachines.reviewImage.file;

    // Act
    const files = FILES;

    // Assert
    expect(files).toContain(expected);
  });

  describe.each(FILES)("%s", (file) => {
    it("is valid Amazon States Language", () => {
      // Arrange
      const parsed = definition(file);

      // Act
      const result = aslValidator(parsed) as { isValid: boolean; errors: unknown[] };

      // Assert
      expect(result.errors).toEqual([]);
      expect(result.isValid).toBe(true);
    });

    it("uses only placeholders the stack substitutes", () => {
      // Arrange
      const substituted = DefinitionSubstitutionKeys[file];

      // Act
      const used = placeholders(text(file));

      // Assert
      expect(substituted, `stacks/substitutions.ts declares no substitutions for ${file}`).toBeDefined();
      expect(used.filter((name) => !substituted?.includes(name))).toEqual([]);
    });

    it("catches and retries only errors AWS raises or core declares", () => {
      // Arrange
      const parsed = definition(file);

      // Act
      const unknown = unknownErrorNames(parsed);

      // Assert
      expect(unknown).toEqual([]);
    });

    it("names every state in PascalCase", () => {
      // Arrange
      const names = allStates(definition(file)).map(([name]) => name);

      // Act
      const offending = names.filter((name) => !isPascalCase(name));

      // Assert
      expect(names.length).toBeGreaterThan(0);
      expect(offending).toEqual([]);
    });

    it("retries the transient Lambda service exceptions on every Lambda task", () => {
      // Arrange
      const lambdaTasks = allStates(definition(file)).filter(([, state]) =>
        state.Resource?.startsWith("arn:aws:states:::lambda:invoke"),
      );

      // Act
      const withoutRetry = lambdaTasks
        .filter(
          ([, state]) =>
            !(state.Retry ?? []).some((retrier) => retrier.ErrorEquals.includes("Lambda.ServiceException")),
        )
        .map(([name]) => name);

      // Assert
      expect(withoutRetry).toEqual([]);
    });
  });
});

describe("review-image", () => {
  it("waits for the human review exactly as long as the blueprint allows", () => {
    // Arrange
    const states = definition(StateMachines.reviewImage.file).States;

    // Act
    const timeout = states.StartHumanReview?.TimeoutSeconds;

    // Assert
    expect(timeout).toBe(HUMAN_REVIEW_TIMEOUT_SECONDS);
  });
});

describe("the static checks themselves", () => {
  it("flag an ErrorEquals name that core does not declare, including inside a Map", () => {
    // Arrange
    const fixture = {
      States: {
        Fan: {
          Type: "Map",
          ItemProcessor: {
            States: {
              Work: { Type: "Task", Retry: [{ ErrorEquals: ["States.Timeout", "TypoedError"] }] },
            },
          },
        },
      },
    };

    // Act
    const unknown = unknownErrorNames(fixture);

    // Assert
    expect(unknown).toEqual(["TypoedError"]);
  });

  it("tell PascalCase state names from others", () => {
    // Arrange
    const names = ["StartHumanReview", "Done", "startHumanReview", "Start_Human", "START"];

    // Act
    const verdicts = names.map(isPascalCase);

    // Assert
    expect(verdicts).toEqual([true, true, false, false, false]);
  });
});
