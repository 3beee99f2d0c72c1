import { describe, expect, it } from "vitest";
import { CorruptStateError, RECENT_COUNTS, Retrain, type RetrainState } from "../src/index";

const settings = { autoTrainingEnabled: true, minUntrainedImages: 3 };

/** Counts executions one after another, as a sequence of conditional writes would. */
function countAll(names: string[], start: RetrainState = Retrain.initial(), using = settings) {
  let state = start;
  const decisions = names.map((name) => {
    const { next, ...decision } = Retrain.count(state, name, using);
    state = next;
    return decision;
  });
  return { state, decisions };
}

describe("Retrain.count", () => {
  it("is not due below the threshold", () => {
    // Arrange
    const names = ["e1", "e2"];

    // Act
    const { state, decisions } = countAll(names);

    // Assert
    expect(decisions.map((d) => d.due)).toEqual([false, false]);
    expect(decisions.map((d) => d.trainingName)).toEqual([null, null]);
    expect(state.untrained).toBe(2);
  });

  it("is due exactly once per crossing, with one training name per generation", () => {
    // Arrange
    const names = ["e1", "e2", "e3", "e4", "e5", "e6", "e7"];

    // Act
    const { state, decisions } = countAll(names);

    // Assert
    expect(decisions.map((d) => d.due)).toEqual([false, false, true, false, false, true, false]);
    expect(decisions.filter((d) => d.due).map((d) => d.trainingName)).toEqual(["retrain-1", "retrain-2"]);
    expect(state).toMatchObject({ generation: 2, untrained: 1 });
  });

  it("returns the earlier decision for an execution it already counted", () => {
    // Arrange
    const { state } = countAll(["e1", "e2", "e3"]);

    // Act
    const repeat = Retrain.count(state, "e3", settings);

    // Assert
    expect(repeat).toMatchObject({ due: true, trainingName: "retrain-1", alreadyCounted: true });
    expect(repeat.next).toBe(state);
  });

  it("is never due with automatic training off, and crosses on the first image after it is on", () => {
    // Arrange
    const off = { ...settings, autoTrainingEnabled: false };
    const { state, decisions } = countAll(["e1", "e2", "e3", "e4"], Retrain.initial(), off);

    // Act
    const after = Retrain.count(state, "e5", settings);

    // Assert
    expect(decisions.every((d) => !d.due)).toBe(true);
    expect(after).toMatchObject({ due: true, trainingName: "retrain-1" });
  });

  it("remembers a bounded number of recent executions", () => {
    // Arrange
    const names = Array.from({ length: RECENT_COUNTS + 10 }, (_, i) => `e${i}`);

    // Act
    const { state } = countAll(names, Retrain.initial(), { ...settings, minUntrainedImages: 1000 });

    // Assert
    expect(state.recent).toHaveLength(RECENT_COUNTS);
    expect(state.recent.at(-1)?.executionName).toBe(`e${RECENT_COUNTS + 9}`);
    expect(state.untrained).toBe(RECENT_COUNTS + 10);
  });
});

describe("Retrain state parsing", () => {
  it("parses a stored counter and reports a corrupt one", () => {
    // Arrange
    const stored = JSON.stringify({ generation: 4, untrained: 2, recent: [] });

    // Act
    const state = Retrain.parseState(stored);
    const corrupt = () => Retrain.parseState('{"generation":"x"}');
    const notJson = () => Retrain.parseState("{");

    // Assert
    expect(state).toEqual({ generation: 4, untrained: 2, recent: [] });
    expect(corrupt).toThrow(CorruptStateError);
    expect(notJson).toThrow(CorruptStateError);
  });

  it("keeps markers under state/counted/ whatever the execution name", () => {
    // Arrange
    const name = "../../outcomes/x";

    // Act
    const key = Retrain.markerKey(name);

    // Assert
    expect(key).toBe("state/counted/..%2F..%2Foutcomes%2Fx.json");
  });
});
