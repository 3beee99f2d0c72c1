import { describe, expect, it } from "vitest";
import { TokenTable, tokenOpenIn } from "../../src/states/tokens";

const waiter = (executionArn: string) => ({ executionArn });

describe("TokenTable", () => {
  it("wakes a callback waiting for a token once a resumed execution registers it", async () => {
    // Arrange
    const table = new TokenTable<{ executionArn: string }>();
    let woke = false;
    const waiting = table
      .registered("t1", () => true)
      .then(() => {
        woke = true;
      });

    // Act
    await new Promise((resolve) => setTimeout(resolve, 20));
    const before = woke;
    table.set("t1", waiter("e1"));
    await waiting;

    // Assert
    expect(before).toBe(false);
    expect(woke).toBe(true);
  });

  it("stops waiting once the token is no longer expected (the execution ended)", async () => {
    // Arrange
    const table = new TokenTable<{ executionArn: string }>();
    let expected = true;

    // Act
    const waiting = table.registered("t1", () => expected);
    expected = false;
    await waiting;

    // Assert
    expect(table.has("t1")).toBe(false);
  });

  it("closes every open token of one execution and no other", () => {
    // Arrange
    const table = new TokenTable<{ executionArn: string }>();
    table.set("a1", waiter("a")).set("a2", waiter("a")).set("b1", waiter("b"));

    // Act
    table.deleteExecution("a");

    // Assert
    expect([...table.keys()]).toEqual(["b1"]);
    table.delete("b1");
    table.deleteExecution("b");
    expect(table.size).toBe(0);
  });
});

describe("tokenOpenIn", () => {
  const scheduled = { id: 3, type: "TaskScheduled", scope: "", meta: { token: "t" } };

  it("holds a token open while only TaskStarted and TaskSubmitted follow its TaskScheduled", () => {
    // Arrange
    const events = [
      scheduled,
      { id: 4, type: "TaskStarted", scope: "" },
      { id: 5, type: "TaskSubmitted", scope: "" },
    ];

    // Act
    const open = tokenOpenIn(events, "t");

    // Assert
    expect(open).toBe(true);
  });

  it("closes a token once its attempt recorded an outcome, and knows no unrecorded token", () => {
    // Arrange
    const events = [
      scheduled,
      { id: 4, type: "TaskStarted", scope: "" },
      { id: 5, type: "TaskSucceeded", scope: "" },
    ];

    // Act
    const closed = tokenOpenIn(events, "t");
    const unknown = tokenOpenIn(events, "other");

    // Assert
    expect(closed).toBe(false);
    expect(unknown).toBe(false);
  });
});
