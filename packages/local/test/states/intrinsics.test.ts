import { describe, expect, it } from "vitest";
import { StatesError } from "../../src/states/errors";
import { evaluateIntrinsic, parseIntrinsic } from "../../src/states/intrinsics";
import { applyTemplate } from "../../src/states/paths";

const data = {
  name: "world",
  count: 3,
  list: [1, 2, 2, 3, { a: 1 }, { a: 1 }],
  text: "a,b;;c",
  json: '{"x":[1,2]}',
  obj: { a: 1, b: 2 },
};

/** Evaluates an intrinsic against `data` through a `.$` field, as a state would. */
function call(expression: string): unknown {
  return (applyTemplate({ "v.$": expression }, data) as { v: unknown }).v;
}

function failure(expression: string): StatesError {
  try {
    call(expression);
  } catch (error) {
    return error as StatesError;
  }
  throw new Error(`${expression} did not fail`);
}

describe("intrinsic parser", () => {
  it("parses nested calls, quoted strings with escapes, numbers, literals and paths", () => {
    // Act
    const parsed = parseIntrinsic(
      "States.Array('it\\'s', 1.5, true, null, $.list[0], States.Array($['name']))",
    );

    // Assert
    expect(parsed.args.map((a) => a.kind)).toEqual([
      "string",
      "literal",
      "literal",
      "literal",
      "path",
      "call",
    ]);
    expect(parsed.args[0]).toMatchObject({ value: "it's" });
    expect(parsed.args[4]).toEqual({ kind: "path", path: "$.list[0]" });
  });

  it("keeps commas and parentheses inside quoted strings", () => {
    expect(call("States.Format('a, (b) {}', $.name)")).toBe("a, (b) world");
  });

  it.each([
    ["States.Format('x", "Unterminated"],
    ["States.Format('x'", "Expected ','"],
    ["States.Format('x') extra", "Unexpected text"],
    ["States.Array(1 2)", "Expected ','"],
    ["States.Array(@)", "Unexpected argument"],
  ])("rejects the malformed call %s with States.IntrinsicFailure", (expression, message) => {
    // Act
    const error = failure(expression);

    // Assert
    expect(error).toBeInstanceOf(StatesError);
    expect(error.error).toBe("States.IntrinsicFailure");
    expect(error.cause).toContain(message);
  });
});

describe("intrinsic functions", () => {
  it.each<[string, unknown]>([
    ["States.Format('Hello, {}! {} items', $.name, $.count)", "Hello, world! 3 items"],
    ["States.Format('literal \\{\\} and {}', $.name)", "literal {} and world"],
    ["States.StringToJson($.json)", { x: [1, 2] }],
    ["States.JsonToString($.obj)", '{"a":1,"b":2}'],
    ["States.Array($.name, $.count, 'x')", ["world", 3, "x"]],
    ["States.ArrayPartition(States.Array(1,2,3,4,5), 2)", [[1, 2], [3, 4], [5]]],
    ["States.ArrayContains($.list, $.obj)", false],
    ["States.ArrayContains($.list, 3)", true],
    ["States.ArrayRange(1, 9, 2)", [1, 3, 5, 7, 9]],
    ["States.ArrayRange(5, 1, -2)", [5, 3, 1]],
    ["States.ArrayGetItem($.list, 3)", 3],
    ["States.ArrayLength($.list)", 6],
    ["States.ArrayUnique($.list)", [1, 2, 3, { a: 1 }]],
    ["States.Base64Encode('Data to encode')", "RGF0YSB0byBlbmNvZGU="],
    ["States.Base64Decode('RGF0YSB0byBlbmNvZGU=')", "Data to encode"],
    ["States.Hash('input data', 'SHA-1')", "aaff4a450a104cd177d28d18d74485e8cae074b7"],
    ["States.Hash('abc', 'MD5')", "900150983cd24fb0d6963f7d28e17f72"],
    ['States.JsonMerge($.obj, States.StringToJson(\'{"b":3,"c":4}\'), false)', { a: 1, b: 3, c: 4 }],
    ["States.MathAdd($.count, -5)", -2],
    ["States.StringSplit($.text, ',;')", ["a", "b", "c"]],
    ["States.MathRandom(1, 100, 7)", call("States.MathRandom(1, 100, 7)")],
  ])("%s evaluates to %j", (expression, expected) => {
    expect(call(expression)).toEqual(expected);
  });

  it("States.MathRandom stays within [start, end)", () => {
    // Act
    const values = Array.from({ length: 200 }, () => call("States.MathRandom(0, 3)") as number);

    // Assert
    expect(Math.min(...values)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...values)).toBeLessThan(3);
    expect(values.every(Number.isInteger)).toBe(true);
  });

  it("States.UUID returns a fresh v4 UUID each time", () => {
    // Act
    const [a, b] = [call("States.UUID()"), call("States.UUID()")];

    // Assert
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(a).not.toBe(b);
  });

  it("reads arguments from the context object", () => {
    // Arrange
    const context = {
      Execution: { Id: "arn:x", Input: {}, Name: "exec-1", RoleArn: "r", StartTime: "t" },
      State: { EnteredTime: "t", Name: "S", RetryCount: 2 },
      StateMachine: { Id: "sm", Name: "m" },
    };

    // Act
    const value = applyTemplate(
      { "v.$": "States.Format('{}#{}', $$.Execution.Name, $$.State.RetryCount)" },
      {},
      context,
    );

    // Assert
    expect(value).toEqual({ v: "exec-1#2" });
  });

  it("evaluates a parsed call with a custom path resolver", () => {
    // Arrange
    const parsed = parseIntrinsic("States.ArrayLength($.anything)");

    // Act
    const value = evaluateIntrinsic(parsed, () => [1, 2]);

    // Assert
    expect(value).toBe(2);
  });

  it.each([
    ["States.Format('{} {}', $.name)", "more {} placeholders"],
    ["States.Format('{}', $.obj)", "must be strings"],
    ["States.StringToJson('{bad')", "could not parse"],
    ["States.ArrayPartition($.list, 0)", "positive"],
    ["States.ArrayRange(1, 2, 0)", "must not be 0"],
    ["States.ArrayRange(0, 2000, 1)", "at most 1000"],
    ["States.ArrayGetItem($.list, 10)", "out of bounds"],
    ["States.ArrayLength($.name)", "expects an array"],
    ["States.Base64Decode('***')", "not base64"],
    ["States.Hash('x', 'SHA-3')", "algorithm must be one of"],
    ["States.JsonMerge($.obj, $.obj, true)", "shallow"],
    ["States.MathRandom(5, 5)", "greater than start"],
    ["States.MathAdd(1.5, 1)", "expects an integer"],
    ["States.UUID(1)", "takes 0 arguments"],
    ["States.Nope(1)", "Unknown intrinsic"],
  ])("%s fails with States.IntrinsicFailure (%s)", (expression, message) => {
    // Act
    const error = failure(expression);

    // Assert
    expect(error.error).toBe("States.IntrinsicFailure");
    expect(error.cause).toContain(message);
  });
});
