import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { Functions, OtherSubstitutions } from "@secondlook/core/blueprint";
import { describe, expect, it } from "vitest";
import { parseDefinition, substitute } from "../../src/states/definition";
import { InvalidDefinitionError, MissingSubstitutionError } from "../../src/states/errors";

const repoRoot = join(import.meta.dirname, "../../../..");

function reviewImageSubstitutions(): Record<string, string> {
  const values: Record<string, string> = {
    [OtherSubstitutions.trainModelStateMachineArn]:
      "arn:aws:states:us-east-1:000000000000:stateMachine:train-model",
  };
  for (const fn of Object.values(Functions)) {
    if (fn.substitution)
      values[fn.substitution] = `arn:aws:lambda:us-east-1:000000000000:function:${fn.handler}`;
  }
  return values;
}

describe("substitute", () => {
  it("fills every placeholder with its value", () => {
    // Arrange
    const text = `{"Resource":"\${A}","Other":"x-\${B}-y"}`;

    // Act
    const result = substitute(text, { A: "arn:1", B: "two" });

    // Assert
    expect(JSON.parse(result)).toEqual({ Resource: "arn:1", Other: "x-two-y" });
  });

  it("escapes values so the definition stays valid JSON", () => {
    // Arrange
    const text = `{"Comment":"\${Quote}"}`;

    // Act
    const result = substitute(text, { Quote: 'say "hi"\\' });

    // Assert
    expect(JSON.parse(result)).toEqual({ Comment: 'say "hi"\\' });
  });

  it("names every placeholder that has no value", () => {
    // Arrange
    const text = `{"a":"\${One}","b":"\${Two}","c":"\${Known}"}`;

    // Act
    const attempt = () => substitute(text, { Known: "k" });

    // Assert
    expect(attempt).toThrow(MissingSubstitutionError);
    expect(attempt).toThrow(/\$\{One\}, \$\{Two\}/);
  });
});

describe("parseDefinition", () => {
  it("accepts review-image once its placeholders are filled", async () => {
    // Arrange
    const text = await readFile(join(repoRoot, "statemachines/review-image.asl.json"), "utf8");

    // Act
    const definition = parseDefinition(substitute(text, reviewImageSubstitutions()));

    // Assert
    expect(definition.StartAt).toBe("DetectLabels");
    expect(Object.keys(definition.States)).toContain("StartHumanReview");
  });

  it("rejects text that is not JSON", () => {
    // Act
    const attempt = () => parseDefinition("{not json");

    // Assert
    expect(attempt).toThrow(InvalidDefinitionError);
    expect(attempt).toThrow(/not valid JSON/);
  });

  it("rejects a JSON array as a definition", () => {
    expect(() => parseDefinition("[]")).toThrow(InvalidDefinitionError);
  });

  it("reports asl-validator's findings for a missing transition target", () => {
    // Arrange
    const text = JSON.stringify({ StartAt: "A", States: { A: { Type: "Pass", Next: "Nowhere" } } });

    // Act
    const attempt = () => parseDefinition(text);

    // Assert
    expect(attempt).toThrow(/MISSING_TRANSITION_TARGET/);
  });

  it("rejects a Task with both TimeoutSeconds and TimeoutSecondsPath", () => {
    // Arrange
    const text = JSON.stringify({
      StartAt: "A",
      States: {
        A: {
          Type: "Task",
          Resource: "arn:aws:states:::lambda:invoke",
          TimeoutSeconds: 5,
          TimeoutSecondsPath: "$.t",
          End: true,
        },
      },
    });

    // Act / Assert
    expect(() => parseDefinition(text)).toThrow(InvalidDefinitionError);
  });

  it("refuses a callback task in an EXPRESS machine but accepts it in a STANDARD one", () => {
    // Arrange
    const text = JSON.stringify({
      StartAt: "Wait",
      States: {
        Wait: {
          Type: "Task",
          Resource: "arn:aws:states:::lambda:invoke.waitForTaskToken",
          Parameters: { FunctionName: "f", "Payload.$": "$$.Task.Token" },
          End: true,
        },
      },
    });

    // Act
    const standard = parseDefinition(text, "STANDARD");
    const express = () => parseDefinition(text, "EXPRESS");

    // Assert
    expect(standard.StartAt).toBe("Wait");
    expect(express).toThrow(/Express state machines do not support/);
  });
});

describe("parseDefinition limits", () => {
  it.each([
    [
      "a JSONata machine",
      { QueryLanguage: "JSONata", StartAt: "P", States: { P: { Type: "Pass", End: true } } },
    ],
    [
      "a JSONata state",
      { StartAt: "P", States: { P: { Type: "Pass", QueryLanguage: "JSONata", End: true } } },
    ],
    [
      "a state with variables",
      { StartAt: "P", States: { P: { Type: "Pass", Assign: { x: 1 }, End: true } } },
    ],
  ])("refuses %s with a clear InvalidDefinitionError", (_label, definition) => {
    // Act
    const attempt = () => parseDefinition(JSON.stringify(definition));

    // Assert
    expect(attempt).toThrow(InvalidDefinitionError);
    expect(attempt).toThrow(/not supported by the local engine/);
  });
});
