import { describe, expect, it } from "vitest";
import { InvalidEnvironmentError, readEnv, required } from "../src/env";

const valid = {
  SECONDLOOK_BUCKET: "data-bucket",
  SECONDLOOK_SETTINGS_PATH: "/secondlook/dev/",
  AWS_REGION: "us-east-1",
};

describe("handler environment", () => {
  it("reads the blueprint's variable names", () => {
    // Arrange
    const source = {
      ...valid,
      SECONDLOOK_FLOW_DEFINITION_ARN: "arn:fd",
      AWS_ENDPOINT_URL: "http://127.0.0.1:4566",
    };

    // Act
    const env = readEnv(source);

    // Assert
    expect(env).toEqual({
      bucket: "data-bucket",
      settingsPath: "/secondlook/dev/",
      flowDefinitionArn: "arn:fd",
      region: "us-east-1",
      endpointUrl: "http://127.0.0.1:4566",
    });
  });

  it.each([
    ["a missing bucket", { ...valid, SECONDLOOK_BUCKET: undefined }, /SECONDLOOK_BUCKET/],
    [
      "a settings path without a trailing slash",
      { ...valid, SECONDLOOK_SETTINGS_PATH: "/secondlook/dev" },
      /SECONDLOOK_SETTINGS_PATH/,
    ],
    ["a missing region", { ...valid, AWS_REGION: undefined }, /AWS_REGION/],
  ])("refuses %s naming the variable", (_, source, pattern) => {
    // Arrange
    const input = source;

    // Act
    const read = () => readEnv(input);

    // Assert
    expect(read).toThrow(InvalidEnvironmentError);
    expect(read).toThrow(pattern);
  });

  it("names an optional variable a handler needs when it is unset", () => {
    // Arrange
    const env = readEnv(valid);

    // Act
    const read = () => required(env.flowDefinitionArn, "SECONDLOOK_FLOW_DEFINITION_ARN");

    // Assert
    expect(read).toThrow(/SECONDLOOK_FLOW_DEFINITION_ARN/);
  });
});
