import { OtherSubstitutions, Prefixes, Rules, StateMachines } from "@secondlook/core/blueprint";
import { beforeAll, describe, expect, it } from "vitest";
import { DefinitionSubstitutionKeys } from "../Review";
import {
  APP_NAME,
  actionsOf,
  onlyResource,
  placeholdersOf,
  readRepoFile,
  STAGE,
  type Synthesized,
  statementsOfRole,
  synthesize,
} from "./synth";

let app: Synthesized;

beforeAll(async () => {
  app = await synthesize();
});

const machine = (name: string) =>
  onlyResource(app.review, "AWS::StepFunctions::StateMachine", {
    StateMachineName: `${APP_NAME}-${STAGE}-${name}`,
  });
const json = (value: unknown) => JSON.stringify(value);

describe("Review stack: review-batch state machine", () => {
  it("deploys review-batch from its ASL file as a STANDARD state machine pointing at review-image", () => {
    // Arrange
    const file = readRepoFile(`statemachines/${StateMachines.reviewBatch.file}`);

    // Act
    const [, resource] = machine(StateMachines.reviewBatch.name);

    // Assert
    expect(resource.Properties.StateMachineType).toBe("STANDARD");
    expect(resource.Properties.DefinitionString).toBe(file);
    const substitutions = resource.Properties.DefinitionSubstitutions as Record<string, unknown>;
    expect(Object.keys(substitutions).sort()).toEqual(placeholdersOf(StateMachines.reviewBatch.file).sort());
    expect(Object.keys(substitutions)).toEqual([
      ...(DefinitionSubstitutionKeys[StateMachines.reviewBatch.file] ?? []),
    ]);
    expect(json(substitutions[OtherSubstitutions.reviewImageStateMachineArn])).toContain(
      `:stateMachine:${APP_NAME}-${STAGE}-${StateMachines.reviewImage.name}`,
    );
  });

  it("lets review-batch read manifests, write batch results, run its children and review-image", () => {
    // Arrange
    const [, resource] = machine(StateMachines.reviewBatch.name);
    const role = (resource.Properties.RoleArn as { "Fn::GetAtt": [string] })["Fn::GetAtt"][0];

    // Act
    const statements = statementsOfRole(app.review, role);

    // Assert
    const s3 = statements.filter((s) => actionsOf(s).some((a) => a.startsWith("s3:")));
    expect(json(s3)).toContain(Prefixes.manifests);
    expect(json(s3)).toContain(Prefixes.batchResults);
    expect(json(s3)).not.toContain(Prefixes.labeled);
    const starts = statements.find((s) => actionsOf(s).includes("states:StartExecution"));
    expect(json(starts?.Resource)).toContain(`${StateMachines.reviewImage.name}`);
    expect(json(starts?.Resource)).toContain(`${StateMachines.reviewBatch.name}/*`);
    expect(statements.some((s) => actionsOf(s).includes("events:PutRule"))).toBe(true);
  });

  it("starts review-batch with the whole event for each manifest uploaded under manifests/", () => {
    // Arrange
    const expected = Rules.manifestUploaded("BUCKET");
    const [batchId] = machine(StateMachines.reviewBatch.name);

    // Act
    const [, rule] = onlyResource(app.review, "AWS::Events::Rule", {
      EventPattern: { source: expected.source, detail: { object: expected.detail.object } },
    });

    // Assert
    const pattern = rule.Properties.EventPattern as typeof expected;
    expect(pattern["detail-type"]).toEqual(expected["detail-type"]);
    expect(pattern.detail.object).toEqual({ key: [{ prefix: Prefixes.manifests }] });
    const targets = rule.Properties.Targets as Record<string, unknown>[];
    expect(targets).toHaveLength(1);
    expect(targets[0]?.Arn).toEqual({ Ref: batchId });
    expect(targets[0]).not.toHaveProperty("Input");
  });
});
