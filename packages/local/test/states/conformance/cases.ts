/**
 * Named conformance cases: one ASL definition per feature, its input, the output AWS produces and
 * the states it enters. `reference: true` marks the cases aws-local-stepfunctions implements, which
 * the suite also runs there and compares.
 */
const fn = (name: string) => `arn:aws:lambda:us-east-1:000000000000:function:${name}`;

export interface ConformanceCase {
  name: string;
  definition: { StartAt: string; States: Record<string, unknown> };
  input: unknown;
  /** The execution's output, or its error for a failing case. */
  expected: { output: unknown } | { error: string; cause?: string };
  /** Names of the states entered, in order (top level and inline branches, as history lists them). */
  entered?: string[];
  reference: boolean;
}

/** The Lambda functions cases call, by name (bare function ARNs in `Resource`). */
export const functions: Record<string, (payload: unknown) => unknown> = {
  double: (n) => (n as number) * 2,
  echo: (p) => p,
  boom: () => {
    const error = new Error("it broke");
    error.name = "Boom";
    throw error;
  },
};

const pass = (extra: Record<string, unknown> = {}) => ({ Type: "Pass", End: true, ...extra });

export const cases: ConformanceCase[] = [
  {
    name: "Pass: Result written at ResultPath, then OutputPath selects",
    definition: {
      StartAt: "Put",
      States: { Put: pass({ Result: { v: 1 }, ResultPath: "$.r", OutputPath: "$.r" }) },
    },
    input: { a: 1 },
    expected: { output: { v: 1 } },
    entered: ["Put"],
    reference: true,
  },
  {
    name: "Pass: InputPath and Parameters with paths and the context object",
    definition: {
      StartAt: "Shape",
      States: { Shape: pass({ InputPath: "$.in", Parameters: { "x.$": "$.x", fixed: "k" } }) },
    },
    input: { in: { x: [1, 2] } },
    expected: { output: { x: [1, 2], fixed: "k" } },
    entered: ["Shape"],
    reference: true,
  },
  {
    name: "Context object: $$.State and $$.StateMachine in Parameters",
    definition: {
      StartAt: "Shape",
      States: {
        Shape: pass({
          Parameters: {
            "state.$": "$$.State.Name",
            "retry.$": "$$.State.RetryCount",
            "machine.$": "$$.StateMachine.Name",
          },
        }),
      },
    },
    input: {},
    expected: { output: { state: "Shape", retry: 0, machine: "case-2" } },
    reference: false,
  },
  {
    name: "ResultPath null keeps the input and ResultPath $ replaces it",
    definition: {
      StartAt: "Keep",
      States: {
        Keep: { Type: "Pass", Result: 1, ResultPath: null, Next: "Replace" },
        Replace: pass({ Result: { replaced: true } }),
      },
    },
    input: { a: 1 },
    expected: { output: { replaced: true } },
    entered: ["Keep", "Replace"],
    reference: true,
  },
  {
    name: "Intrinsics: Format, StringToJson, JsonToString, Array, ArrayLength, MathAdd",
    definition: {
      StartAt: "Compute",
      States: {
        Compute: pass({
          Parameters: {
            "greeting.$": "States.Format('Hello, {}!', $.name)",
            "parsed.$": "States.StringToJson($.raw)",
            "text.$": "States.JsonToString($.obj)",
            "list.$": "States.Array(1, 'two', $.n)",
            "length.$": "States.ArrayLength($.items)",
            "sum.$": "States.MathAdd($.n, -2)",
          },
        }),
      },
    },
    input: { name: "Ada", raw: '{"k":[1]}', obj: { a: 1 }, n: 5, items: [1, 2, 3] },
    expected: {
      output: {
        greeting: "Hello, Ada!",
        parsed: { k: [1] },
        text: '{"a":1}',
        list: [1, "two", 5],
        length: 3,
        sum: 3,
      },
    },
    reference: true,
  },
  {
    name: "Intrinsics: ArrayPartition, ArrayContains, ArrayRange, ArrayGetItem, ArrayUnique",
    definition: {
      StartAt: "Arrays",
      States: {
        Arrays: pass({
          Parameters: {
            "chunks.$": "States.ArrayPartition($.items, 2)",
            "has.$": "States.ArrayContains($.items, 3)",
            "range.$": "States.ArrayRange(1, 9, 4)",
            "second.$": "States.ArrayGetItem($.items, 1)",
            "unique.$": "States.ArrayUnique($.dupes)",
          },
        }),
      },
    },
    input: { items: [1, 2, 3, 4, 5], dupes: [1, 1, 2, 2, 3] },
    expected: {
      output: { chunks: [[1, 2], [3, 4], [5]], has: true, range: [1, 5, 9], second: 2, unique: [1, 2, 3] },
    },
    reference: true,
  },
  {
    name: "Intrinsics: Base64, Hash, JsonMerge, StringSplit",
    definition: {
      StartAt: "Strings",
      States: {
        Strings: pass({
          Parameters: {
            "encoded.$": "States.Base64Encode($.text)",
            "decoded.$": "States.Base64Decode('aGVsbG8=')",
            "hash.$": "States.Hash($.text, 'SHA-256')",
            "merged.$": "States.JsonMerge($.a, $.b, false)",
            "parts.$": "States.StringSplit($.csv, ',')",
          },
        }),
      },
    },
    input: { text: "hello", a: { x: 1, y: { z: 1 } }, b: { y: { w: 2 } }, csv: "a,b,c" },
    expected: {
      output: {
        encoded: "aGVsbG8=",
        decoded: "hello",
        hash: "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
        merged: { x: 1, y: { w: 2 } },
        parts: ["a", "b", "c"],
      },
    },
    reference: true,
  },
  {
    name: "Choice: String, Numeric and Boolean comparisons with And, Or and Not",
    definition: {
      StartAt: "Decide",
      States: {
        Decide: {
          Type: "Choice",
          Choices: [
            {
              And: [
                { Variable: "$.s", StringEquals: "abc" },
                { Variable: "$.n", NumericGreaterThan: 5 },
                { Variable: "$.b", BooleanEquals: true },
                { Not: { Variable: "$.s", StringEquals: "xyz" } },
                {
                  Or: [
                    { Variable: "$.n", NumericEquals: 0 },
                    { Variable: "$.n", NumericLessThanEquals: 10 },
                  ],
                },
              ],
              Next: "Matched",
            },
          ],
          Default: "Unmatched",
        },
        Matched: pass({ Result: "matched" }),
        Unmatched: pass({ Result: "unmatched" }),
      },
    },
    input: { s: "abc", n: 7, b: true },
    expected: { output: "matched" },
    entered: ["Decide", "Matched"],
    reference: true,
  },
  {
    name: "Choice: Path comparisons, StringMatches, IsPresent, IsNull, IsNumeric and timestamps",
    definition: {
      StartAt: "Decide",
      States: {
        Decide: {
          Type: "Choice",
          Choices: [
            {
              And: [
                { Variable: "$.s", StringEquals: "abc" },
                { Variable: "$.s", StringMatches: "a*c" },
                { Variable: "$.n", NumericGreaterThanPath: "$.limit" },
                { Variable: "$.n", IsNumeric: true },
                { Variable: "$.b", BooleanEquals: true },
                { Variable: "$.nothing", IsNull: true },
                { Variable: "$.missing", IsPresent: false },
                { Variable: "$.t", TimestampLessThan: "2030-01-01T00:00:00Z" },
                { Not: { Variable: "$.s", StringEquals: "xyz" } },
                {
                  Or: [
                    { Variable: "$.n", NumericEquals: 0 },
                    { Variable: "$.n", NumericLessThanEquals: 10 },
                  ],
                },
              ],
              Next: "Matched",
            },
          ],
          Default: "Unmatched",
        },
        Matched: pass({ Result: "matched" }),
        Unmatched: pass({ Result: "unmatched" }),
      },
    },
    input: { s: "abc", n: 7, limit: 5, b: true, nothing: null, t: "2026-01-01T00:00:00Z" },
    expected: { output: "matched" },
    entered: ["Decide", "Matched"],
    reference: false,
  },
  {
    name: "Choice without a match and without Default fails with States.NoChoiceMatched",
    definition: {
      StartAt: "Decide",
      States: {
        Decide: { Type: "Choice", Choices: [{ Variable: "$.n", NumericEquals: 1, Next: "One" }] },
        One: pass(),
      },
    },
    input: { n: 2 },
    expected: { error: "States.NoChoiceMatched" },
    entered: ["Decide"],
    reference: true,
  },
  {
    name: "Wait: Seconds then Succeed passes the input through",
    definition: {
      StartAt: "Pause",
      States: { Pause: { Type: "Wait", Seconds: 2, Next: "Done" }, Done: { Type: "Succeed" } },
    },
    input: { kept: true },
    expected: { output: { kept: true } },
    entered: ["Pause", "Done"],
    reference: true,
  },
  {
    name: "Fail: Error and Cause end the execution",
    definition: {
      StartAt: "Stop",
      States: { Stop: { Type: "Fail", Error: "Custom.Error", Cause: "because" } },
    },
    input: {},
    expected: { error: "Custom.Error", cause: "because" },
    entered: ["Stop"],
    reference: true,
  },
  {
    name: "Fail: ErrorPath and CausePath read the input",
    definition: { StartAt: "Stop", States: { Stop: { Type: "Fail", ErrorPath: "$.e", CausePath: "$.c" } } },
    input: { e: "From.Input", c: "the cause" },
    expected: { error: "From.Input", cause: "the cause" },
    reference: false,
  },
  {
    name: "Task: a Lambda result goes through ResultSelector and ResultPath",
    definition: {
      StartAt: "Call",
      States: {
        Call: {
          Type: "Task",
          Resource: fn("echo"),
          Parameters: { "value.$": "$.n" },
          ResultSelector: { "got.$": "$.value" },
          ResultPath: "$.call",
          End: true,
        },
      },
    },
    input: { n: 4 },
    expected: { output: { n: 4, call: { got: 4 } } },
    entered: ["Call"],
    reference: true,
  },
  {
    name: "Task: Catch with ResultPath keeps the input and adds Error and Cause",
    definition: {
      StartAt: "Call",
      States: {
        Call: {
          Type: "Task",
          Resource: fn("boom"),
          Catch: [{ ErrorEquals: ["States.ALL"], ResultPath: "$.failure", Next: "Recover" }],
          End: true,
        },
        Recover: pass({ OutputPath: "$.failure.Error" }),
      },
    },
    input: { a: 1 },
    expected: { output: "Boom" },
    entered: ["Call", "Recover"],
    reference: false,
  },
  {
    name: "Task: Retry exhausts MaxAttempts, then the error fails the execution",
    definition: {
      StartAt: "Call",
      States: {
        Call: {
          Type: "Task",
          Resource: fn("boom"),
          Retry: [{ ErrorEquals: ["Boom"], IntervalSeconds: 1, MaxAttempts: 2, BackoffRate: 1 }],
          End: true,
        },
      },
    },
    input: {},
    expected: { error: "Boom" },
    entered: ["Call"],
    reference: false,
  },
  {
    name: "Parallel: every branch's output, in branch order",
    definition: {
      StartAt: "Both",
      States: {
        Both: {
          Type: "Parallel",
          Branches: [
            { StartAt: "Left", States: { Left: pass({ Result: "L" }) } },
            {
              StartAt: "Right",
              States: { Right: { Type: "Task", Resource: fn("double"), InputPath: "$.n", End: true } },
            },
          ],
          End: true,
        },
      },
    },
    input: { n: 21 },
    expected: { output: ["L", 42] },
    reference: true,
  },
  {
    name: "Parallel: a failing branch cuts its sibling and Catch receives the branch's error",
    definition: {
      StartAt: "Both",
      States: {
        Both: {
          Type: "Parallel",
          Branches: [
            { StartAt: "Breaks", States: { Breaks: { Type: "Task", Resource: fn("boom"), End: true } } },
            { StartAt: "Waits", States: { Waits: { Type: "Wait", Seconds: 600, End: true } } },
          ],
          Catch: [{ ErrorEquals: ["Boom"], ResultPath: "$.caught", Next: "Recover" }],
          End: true,
        },
        Recover: pass({ OutputPath: "$.caught.Error" }),
      },
    },
    input: { n: 1 },
    expected: { output: "Boom" },
    reference: true,
  },
  {
    name: "Map (inline): a failing iteration fails the Map with its error",
    definition: {
      StartAt: "Each",
      States: {
        Each: {
          Type: "Map",
          ItemsPath: "$.items",
          ItemProcessor: {
            StartAt: "Route",
            States: {
              Route: {
                Type: "Choice",
                Choices: [{ Variable: "$", NumericEquals: 2, Next: "Reject" }],
                Default: "Hold",
              },
              Hold: { Type: "Wait", Seconds: 600, End: true },
              Reject: { Type: "Fail", Error: "Rejected", Cause: "item 2" },
            },
          },
          End: true,
        },
      },
    },
    input: { items: [1, 2, 3] },
    expected: { error: "Rejected", cause: "item 2" },
    reference: true,
  },
  {
    name: "Map (inline): ItemSelector with $$.Map.Item.Index and Value, MaxConcurrency 1",
    definition: {
      StartAt: "Each",
      States: {
        Each: {
          Type: "Map",
          ItemsPath: "$.items",
          MaxConcurrency: 1,
          ItemSelector: { "i.$": "$$.Map.Item.Index", "v.$": "$$.Map.Item.Value", "k.$": "$.k" },
          ItemProcessor: {
            StartAt: "Double",
            States: { Double: { Type: "Task", Resource: fn("echo"), End: true } },
          },
          End: true,
        },
      },
    },
    input: { items: ["a", "b"], k: 9 },
    expected: {
      output: [
        { i: 0, v: "a", k: 9 },
        { i: 1, v: "b", k: 9 },
      ],
    },
    reference: true,
  },
  {
    name: "Map (distributed): children are executions and the output keeps item order",
    definition: {
      StartAt: "Each",
      States: {
        Each: {
          Type: "Map",
          ItemsPath: "$",
          ItemProcessor: {
            ProcessorConfig: { Mode: "DISTRIBUTED", ExecutionType: "STANDARD" },
            StartAt: "Double",
            States: { Double: { Type: "Task", Resource: fn("double"), End: true } },
          },
          End: true,
        },
      },
    },
    input: [1, 2, 3],
    expected: { output: [2, 4, 6] },
    entered: ["Each"],
    reference: false,
  },
];
