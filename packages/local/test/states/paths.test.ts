import { describe, expect, it } from "vitest";
import { errorMatches, lambdaFailure, StatesError } from "../../src/states/errors";
import { applyResultPath, applyTemplate, readPath, selectPath } from "../../src/states/paths";

const data = { a: { b: [1, 2, { c: 3 }] }, "x y": 5, n: null, items: [{ v: 1 }, { v: 2 }] };

describe("paths", () => {
  it.each<[string, unknown]>([
    ["$", data],
    ["$.a.b[2].c", 3],
    ["$['x y']", 5],
    ["$.n", null],
    ["$.items[*].v", [1, 2]],
    ["$.a.b[0:2]", [1, 2]],
    ["$..c", [3]],
    ["$.items[?(@.v > 1)]", [{ v: 2 }]],
  ])("reads %s", (path, expected) => {
    expect(readPath(data, path)).toEqual(expected);
  });

  it("fails with States.Runtime naming the path when a definite path matches nothing", () => {
    // Act
    const attempt = () => readPath(data, "$.a.missing");

    // Assert
    expect(attempt).toThrow(StatesError);
    expect(attempt).toThrow(/\$\.a\.missing/);
  });

  it("fails with States.Runtime, not a TypeError, when the input is null", () => {
    // Act
    const attempt = () => readPath(null, "$.a");

    // Assert
    expect(attempt).toThrow(StatesError);
    expect(attempt).toThrow(/The JSONPath '\$\.a' could not be found in the input 'null'/);
  });

  it("reads an array's length and a missing index as jsonpath-plus does", () => {
    // Act / Assert
    expect(readPath({ list: [1, 2] }, "$.list.length")).toBe(2);
    expect(() => readPath({ list: [1, 2] }, "$.list[5]")).toThrow(StatesError);
  });

  it("maps a null InputPath/OutputPath to an empty object and an absent one to everything", () => {
    expect(selectPath(data, null)).toEqual({});
    expect(selectPath(data, undefined)).toBe(data);
  });
});

describe("payload templates", () => {
  it("evaluates .$ keys from the input, the context object and intrinsics, recursively", () => {
    // Arrange
    const context = {
      Execution: { Id: "arn:e", Input: {}, Name: "e", RoleArn: "r", StartTime: "2026-01-01T00:00:00.000Z" },
      State: { EnteredTime: "t", Name: "S", RetryCount: 0 },
      StateMachine: { Id: "arn:m", Name: "m" },
      Task: { Token: "tok" },
    };
    const template = {
      static: "kept",
      "c.$": "$.a.b[2].c",
      nested: { "token.$": "$$.Task.Token", list: [{ "n.$": "$.n" }] },
      "len.$": "States.ArrayLength($.items)",
    };

    // Act
    const result = applyTemplate(template, data, context);

    // Assert
    expect(result).toEqual({ static: "kept", c: 3, nested: { token: "tok", list: [{ n: null }] }, len: 2 });
  });

  it("refuses a .$ key whose value is not a string", () => {
    expect(() => applyTemplate({ "x.$": 1 }, data)).toThrow(/must be a path or intrinsic/);
  });
});

describe("ResultPath", () => {
  it("writes the result under the path without changing the input object", () => {
    // Arrange
    const input = { keep: 1, deep: { x: 1 } };

    // Act
    const output = applyResultPath(input, "$.deep.result.value", 42);

    // Assert
    expect(output).toEqual({ keep: 1, deep: { x: 1, result: { value: 42 } } });
    expect(input).toEqual({ keep: 1, deep: { x: 1 } });
  });

  it("keeps the input for null and replaces it for $", () => {
    expect(applyResultPath({ a: 1 }, null, 2)).toEqual({ a: 1 });
    expect(applyResultPath({ a: 1 }, "$", 2)).toBe(2);
  });

  it("fails with States.ResultPathMatchFailure when the path crosses a non-object", () => {
    // Act
    const attempt = () => applyResultPath({ a: 1 }, "$.a.b", 2);

    // Assert
    expect(attempt).toThrow(/States.ResultPathMatchFailure/);
  });

  it("refuses to write a named field into an array, which JSON would silently drop", () => {
    // Act / Assert (found by the ResultPath property test: input {"_":[]}, path $._.a)
    expect(() => applyResultPath({ _: [] }, "$._.a", {})).toThrow(/States.ResultPathMatchFailure/);
    expect(() => applyResultPath([1], "$.a", {})).toThrow(/States.ResultPathMatchFailure/);
    expect(applyResultPath({ a: [1, 2] }, "$.a[1]", 9)).toEqual({ a: [1, 9] });
  });
});

describe("error matching", () => {
  it.each<[string[], string, boolean]>([
    [["States.ALL"], "MyError", true],
    [["States.ALL"], "States.Timeout", true],
    [["States.ALL"], "States.Runtime", false],
    [["States.TaskFailed"], "MyError", true],
    [["States.TaskFailed"], "States.Timeout", false],
    [["States.TaskFailed"], "States.HeartbeatTimeout", false],
    [["States.Timeout"], "States.HeartbeatTimeout", true],
    [["States.HeartbeatTimeout"], "States.Timeout", false],
    [["A", "B"], "B", true],
    [["A"], "B", false],
  ])("%j matches %s: %s", (errorEquals, error, expected) => {
    expect(errorMatches(errorEquals, error)).toBe(expected);
  });

  it("turns a thrown handler error into Lambda's errorType and JSON cause", () => {
    // Arrange
    const thrown = new Error("model is not running");
    thrown.name = "ModelNotReadyError";

    // Act
    const failure = lambdaFailure(thrown);

    // Assert
    expect(failure.error).toBe("ModelNotReadyError");
    const cause = JSON.parse(failure.cause);
    expect(cause).toMatchObject({ errorMessage: "model is not running", errorType: "ModelNotReadyError" });
    expect(Array.isArray(cause.trace)).toBe(true);
  });
});
