import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  configuredWorkteamArn,
  InvalidWorkteamArnError,
  readWorkerTemplate,
  WORKTEAM_ARN_ENV,
  WorkerTemplateError,
} from "../human-review";
import { onlyResource, type Synthesized, synthesize } from "./synth";

const EXISTING_TEAM = "arn:aws:sagemaker:us-east-1:123456789012:workteam/private-crowd/labelers";

describe("Review stack with an existing work team", () => {
  let app: Synthesized;

  beforeAll(async () => {
    app = await synthesize({ workteamArn: EXISTING_TEAM });
  });

  it("imports the configured work team instead of creating a workforce", () => {
    // Arrange
    const { review } = app;

    // Act
    const [, resource] = onlyResource(review, "Custom::HumanReview");

    // Assert
    expect(resource.Properties.WorkteamArn).toBe(EXISTING_TEAM);
    review.resourceCountIs("AWS::SageMaker::Workteam", 0);
    review.resourceCountIs("AWS::Cognito::UserPool", 0);
    review.hasOutput("WorkteamArn", { Value: EXISTING_TEAM });
  });
});

describe("configuredWorkteamArn", () => {
  it("treats an unset or blank variable as 'create a team'", () => {
    // Arrange
    const unset = {};
    const blank = { [WORKTEAM_ARN_ENV]: "  " };

    // Act
    const results = [configuredWorkteamArn(unset), configuredWorkteamArn(blank)];

    // Assert
    expect(results).toEqual([undefined, undefined]);
  });

  it("returns a valid work team ARN trimmed", () => {
    // Arrange
    const env = { [WORKTEAM_ARN_ENV]: ` ${EXISTING_TEAM}\n` };

    // Act
    const arn = configuredWorkteamArn(env);

    // Assert
    expect(arn).toBe(EXISTING_TEAM);
  });

  it("refuses a value that is not a work team ARN with a named error quoting it", () => {
    // Arrange
    const env = { [WORKTEAM_ARN_ENV]: "arn:aws:sagemaker:us-east-1:123456789012:flow-definition/x" };

    // Act
    const attempt = () => configuredWorkteamArn(env);

    // Assert
    expect(attempt).toThrow(InvalidWorkteamArnError);
    expect(attempt).toThrow(/flow-definition\/x/);
  });
});

describe("readWorkerTemplate", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "secondlook-template-"));

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it("returns the template file's content", () => {
    // Arrange
    const file = path.join(dir, "ok.liquid.html");
    writeFileSync(file, "<crowd-form>{{ task.input.taskObject | grant_read_access }}</crowd-form>");

    // Act
    const content = readWorkerTemplate(file);

    // Assert
    expect(content).toContain("grant_read_access");
  });

  it("names the missing file in a WorkerTemplateError", () => {
    // Arrange
    const file = path.join(dir, "missing.liquid.html");

    // Act
    const attempt = () => readWorkerTemplate(file);

    // Assert
    expect(attempt).toThrow(WorkerTemplateError);
    expect(attempt).toThrow(/missing\.liquid\.html/);
  });

  it("refuses an empty template", () => {
    // Arrange
    const file = path.join(dir, "empty.liquid.html");
    writeFileSync(file, "  \n");

    // Act
    const attempt = () => readWorkerTemplate(file);

    // Assert
    expect(attempt).toThrow(/is empty/);
  });

  it("refuses a template longer than A2I's 128,000 characters", () => {
    // Arrange
    const file = path.join(dir, "large.liquid.html");
    writeFileSync(file, "x".repeat(128_001));

    // Act
    const attempt = () => readWorkerTemplate(file);

    // Assert
    expect(attempt).toThrow(/128001 characters/);
  });
});
