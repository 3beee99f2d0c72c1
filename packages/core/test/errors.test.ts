import { describe, expect, it } from "vitest";
import * as core from "../src/index";

describe("errors", () => {
  it("lists every error class's name in ErrorNames, each ending in Error", () => {
    // Arrange
    type ErrorClass = new (message: string) => core.SecondlookError;
    const classes = (Object.values(core) as unknown[]).filter(
      (value): value is ErrorClass =>
        typeof value === "function" && value.prototype instanceof core.SecondlookError,
    );

    // Act
    const names = classes.map((ErrorClass) => new ErrorClass("m").name);

    // Assert
    expect(names.length).toBeGreaterThanOrEqual(20);
    expect([...names].sort()).toEqual([...core.ErrorNames].sort());
    expect(names.every((name) => name.endsWith("Error"))).toBe(true);
  });

  it("carries the name Step Functions matches on and the message", () => {
    // Arrange
    const error = new core.CounterConflictError("raced");

    // Act
    const { name, message } = error;

    // Assert
    expect(name).toBe("CounterConflictError");
    expect(message).toBe("raced");
    expect(error).toBeInstanceOf(Error);
  });
});
