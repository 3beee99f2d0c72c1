/** The execution graph: arrows read from the definition, state colours read from the history. */
import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { GraphDefinitionError, renderGraph, stateStatuses, transitions } from "../../src/console/graph";
import type { HistoryEvent } from "../../src/states/engine";

const REVIEW_IMAGE = new URL("../../../../statemachines/review-image.asl.json", import.meta.url);

let nextId = 1;
function event(type: string, details?: Record<string, unknown>): HistoryEvent {
  const id = nextId++;
  const member = type.endsWith("StateEntered")
    ? "stateEnteredEventDetails"
    : type.endsWith("StateExited")
      ? "stateExitedEventDetails"
      : `${type[0]?.toLowerCase()}${type.slice(1)}EventDetails`;
  return {
    id,
    previousEventId: id - 1,
    timestamp: 1_700_000_000 + id,
    type,
    ...(details ? { [member]: details } : {}),
  };
}
const entered = (name: string) => event("TaskStateEntered", { name });
const exited = (name: string) => event("TaskStateExited", { name });

const MACHINE = JSON.stringify({
  StartAt: "First",
  States: {
    First: {
      Type: "Task",
      Resource: "x",
      Next: "Second",
      Catch: [{ ErrorEquals: ["States.ALL"], Next: "Recover" }],
    },
    Second: { Type: "Task", Resource: "x", End: true },
    Recover: { Type: "Pass", End: true },
  },
});
const STATES = ["First", "Second", "Recover"];

describe("transitions", () => {
  it("reads Next, Choice, Default and Catch arrows from the review-image definition", async () => {
    // Arrange
    const definition = await readFile(REVIEW_IMAGE, "utf8");

    // Act
    const { states, edges } = transitions(definition);

    // Assert
    expect(states).toContain("StartHumanReview");
    expect(edges).toContainEqual({ from: "__start", to: "DetectLabels", kind: "next" });
    expect(edges.some((e) => e.from === "CheckConfidence" && e.kind === "choice")).toBe(true);
    expect(edges.some((e) => e.from === "DetectLabels" && e.kind === "catch")).toBe(true);
  });

  it("refuses a definition that is not JSON with a named error", () => {
    // Arrange
    const definition = "{ not json";

    // Act
    const act = () => transitions(definition);

    // Assert
    expect(act).toThrow(GraphDefinitionError);
  });
});

describe("stateStatuses", () => {
  it("marks the entered and unfinished state in progress and the rest not run", () => {
    // Arrange
    const events = [event("ExecutionStarted", {}), entered("First")];

    // Act
    const statuses = stateStatuses(STATES, events, "RUNNING");

    // Assert
    expect(Object.fromEntries(statuses)).toEqual({
      First: "in-progress",
      Second: "not-run",
      Recover: "not-run",
    });
  });

  it("marks a state left through Catch as a caught error and its handler succeeded", () => {
    // Arrange
    const events = [
      entered("First"),
      event("TaskFailed", { error: "Boom" }),
      entered("Recover"),
      exited("Recover"),
      event("ExecutionSucceeded", {}),
    ];

    // Act
    const statuses = stateStatuses(STATES, events, "SUCCEEDED");

    // Assert
    expect(Object.fromEntries(statuses)).toEqual({
      First: "caught",
      Second: "not-run",
      Recover: "succeeded",
    });
  });

  it("marks a state that succeeded after a retried failure as succeeded", () => {
    // Arrange
    const events = [
      entered("First"),
      event("TaskFailed", { error: "Lambda.ServiceException" }),
      event("TaskSucceeded", {}),
      exited("First"),
      entered("Second"),
      exited("Second"),
    ];

    // Act
    const statuses = stateStatuses(STATES, events, "SUCCEEDED");

    // Assert
    expect(statuses.get("First")).toBe("succeeded");
    expect(statuses.get("Second")).toBe("succeeded");
  });

  it("marks the state the execution failed in as failed, and an aborted one as aborted", () => {
    // Arrange
    const events = [
      entered("First"),
      exited("First"),
      entered("Second"),
      event("TaskFailed", { error: "X" }),
    ];

    // Act
    const failed = stateStatuses(STATES, [...events, event("ExecutionFailed", {})], "FAILED");
    const aborted = stateStatuses(STATES, [...events, event("ExecutionAborted", {})], "ABORTED");

    // Assert
    expect(failed.get("Second")).toBe("failed");
    expect(aborted.get("Second")).toBe("aborted");
    expect(failed.get("First")).toBe("succeeded");
  });
});

describe("renderGraph", () => {
  it("draws every state once with its status, laid out by ELK", async () => {
    // Arrange
    const statuses = new Map([
      ["First", "succeeded" as const],
      ["Second", "in-progress" as const],
      ["Recover", "not-run" as const],
    ]);

    // Act
    const svg = (await renderGraph(MACHINE, statuses)).value;

    // Assert
    expect(svg).toContain('data-state="First" data-status="succeeded"');
    expect(svg).toContain('data-state="Second" data-status="in-progress"');
    expect(svg).toContain('data-state="Recover" data-status="not-run"');
    expect(svg.match(/<polyline/g)?.length).toBe(5);
    expect(svg).toMatch(/viewBox="0 0 \d+ \d+"/);
  });

  it("escapes state names so a definition cannot inject markup", async () => {
    // Arrange
    const machine = JSON.stringify({
      StartAt: "<b>x</b>",
      States: { "<b>x</b>": { Type: "Pass", End: true } },
    });

    // Act
    const svg = (await renderGraph(machine, new Map())).value;

    // Assert
    expect(svg).not.toContain("<b>");
    expect(svg).toContain("&lt;b&gt;x&lt;/b&gt;");
  });
});
