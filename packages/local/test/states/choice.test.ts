import { describe, expect, it } from "vitest";
import { chooseNext, evaluateRule } from "../../src/states/choice";
import { StatesError } from "../../src/states/errors";

const input = {
  s: "apple",
  n: 5,
  b: true,
  nul: null,
  t: "2026-01-02T03:04:05Z",
  t2: "2026-01-02T03:04:06.500+00:00",
  other: { s: "banana", n: 5, b: true, t: "2026-01-02T03:04:05Z" },
  file: "logs/2026/app*.log",
};

describe("choice comparisons", () => {
  it.each<[Record<string, unknown>, boolean]>([
    [{ Variable: "$.s", StringEquals: "apple" }, true],
    [{ Variable: "$.s", StringEquals: "pear" }, false],
    [{ Variable: "$.s", StringLessThan: "banana" }, true],
    [{ Variable: "$.s", StringGreaterThan: "banana" }, false],
    [{ Variable: "$.s", StringLessThanEquals: "apple" }, true],
    [{ Variable: "$.s", StringGreaterThanEquals: "apple" }, true],
    [{ Variable: "$.s", StringEqualsPath: "$.other.s" }, false],
    [{ Variable: "$.s", StringLessThanPath: "$.other.s" }, true],
    [{ Variable: "$.s", StringGreaterThanPath: "$.other.s" }, false],
    [{ Variable: "$.s", StringLessThanEqualsPath: "$.other.s" }, true],
    [{ Variable: "$.s", StringGreaterThanEqualsPath: "$.other.s" }, false],
    [{ Variable: "$.s", StringMatches: "a*e" }, true],
    [{ Variable: "$.s", StringMatches: "*pl?" }, false],
    [{ Variable: "$.file", StringMatches: "logs/*/app\\*.log" }, true],
    [{ Variable: "$.file", StringMatches: "logs/*/appX.log" }, false],
    [{ Variable: "$.n", NumericEquals: 5 }, true],
    [{ Variable: "$.n", NumericLessThan: 5 }, false],
    [{ Variable: "$.n", NumericGreaterThan: 4.5 }, true],
    [{ Variable: "$.n", NumericLessThanEquals: 5 }, true],
    [{ Variable: "$.n", NumericGreaterThanEquals: 6 }, false],
    [{ Variable: "$.n", NumericEqualsPath: "$.other.n" }, true],
    [{ Variable: "$.n", NumericLessThanPath: "$.other.n" }, false],
    [{ Variable: "$.n", NumericGreaterThanPath: "$.other.n" }, false],
    [{ Variable: "$.n", NumericLessThanEqualsPath: "$.other.n" }, true],
    [{ Variable: "$.n", NumericGreaterThanEqualsPath: "$.other.n" }, true],
    [{ Variable: "$.b", BooleanEquals: true }, true],
    [{ Variable: "$.b", BooleanEqualsPath: "$.other.b" }, true],
    [{ Variable: "$.t", TimestampEquals: "2026-01-02T03:04:05Z" }, true],
    [{ Variable: "$.t", TimestampLessThan: "2026-01-02T03:04:05.001Z" }, true],
    [{ Variable: "$.t", TimestampGreaterThan: "2026-01-02T03:04:05Z" }, false],
    [{ Variable: "$.t", TimestampLessThanEquals: "2026-01-02T03:04:05Z" }, true],
    [{ Variable: "$.t", TimestampGreaterThanEquals: "2026-01-02T03:04:06Z" }, false],
    [{ Variable: "$.t", TimestampEqualsPath: "$.other.t" }, true],
    [{ Variable: "$.t", TimestampLessThanPath: "$.t2" }, true],
    [{ Variable: "$.t2", TimestampGreaterThanPath: "$.t" }, true],
    [{ Variable: "$.t", TimestampLessThanEqualsPath: "$.other.t" }, true],
    [{ Variable: "$.t", TimestampGreaterThanEqualsPath: "$.t2" }, false],
    [{ Variable: "$.s", NumericEquals: 5 }, false],
    [{ Variable: "$.n", StringEquals: "5" }, false],
    [{ Variable: "$.s", TimestampEquals: "2026-01-02T03:04:05Z" }, false],
  ])("%j is %s", (rule, expected) => {
    expect(evaluateRule(rule, input)).toBe(expected);
  });
});

describe("choice type tests and combinators", () => {
  it.each<[Record<string, unknown>, boolean]>([
    [{ Variable: "$.nul", IsNull: true }, true],
    [{ Variable: "$.s", IsNull: true }, false],
    [{ Variable: "$.missing", IsPresent: false }, true],
    [{ Variable: "$.s", IsPresent: true }, true],
    [{ Variable: "$.n", IsNumeric: true }, true],
    [{ Variable: "$.s", IsNumeric: false }, true],
    [{ Variable: "$.s", IsString: true }, true],
    [{ Variable: "$.b", IsBoolean: true }, true],
    [{ Variable: "$.t", IsTimestamp: true }, true],
    [{ Variable: "$.s", IsTimestamp: true }, false],
    [
      {
        And: [
          { Variable: "$.n", NumericEquals: 5 },
          { Variable: "$.b", BooleanEquals: true },
        ],
      },
      true,
    ],
    [
      {
        And: [
          { Variable: "$.n", NumericEquals: 5 },
          { Variable: "$.b", BooleanEquals: false },
        ],
      },
      false,
    ],
    [
      {
        Or: [
          { Variable: "$.n", NumericEquals: 1 },
          { Variable: "$.s", StringEquals: "apple" },
        ],
      },
      true,
    ],
    [{ Not: { Variable: "$.s", StringEquals: "apple" } }, false],
    [{ Not: { Variable: "$.missing", IsPresent: true } }, true],
  ])("%j is %s", (rule, expected) => {
    expect(evaluateRule(rule, input)).toBe(expected);
  });

  it("fails with States.Runtime when a compared variable is missing", () => {
    // Act
    const attempt = () => evaluateRule({ Variable: "$.missing", StringEquals: "x" }, input);

    // Assert
    expect(attempt).toThrow(StatesError);
    expect(attempt).toThrow(/States.Runtime/);
  });

  it("takes the first matching choice, then the Default", () => {
    // Arrange
    const choices = [
      { Variable: "$.n", NumericGreaterThan: 10, Next: "Big" },
      { Variable: "$.n", NumericGreaterThan: 1, Next: "Medium" },
      { Variable: "$.n", NumericGreaterThan: 0, Next: "Small" },
    ];

    // Act
    const chosen = chooseNext(choices, "Default", input);
    const fallback = chooseNext(choices, "Default", { n: -1 });

    // Assert
    expect(chosen).toBe("Medium");
    expect(fallback).toBe("Default");
  });

  it("fails with States.NoChoiceMatched when nothing matches and there is no Default", () => {
    // Act
    const attempt = () => chooseNext([{ Variable: "$.n", NumericEquals: 0, Next: "X" }], undefined, input);

    // Assert
    expect(attempt).toThrow(/States.NoChoiceMatched/);
  });
});
