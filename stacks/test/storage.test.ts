import { A2I_CORS_RULE, Prefixes, settingsPath } from "@secondlook/core/blueprint";
import { Settings } from "@secondlook/core/settings";
import { Match } from "aws-cdk-lib/assertions";
import { beforeAll, describe, expect, it } from "vitest";
import { EMPTY_SETTING_VALUE } from "../Storage";
import { APP_NAME, onlyResource, STAGE, type Synthesized, synthesize } from "./synth";

let app: Synthesized;

beforeAll(async () => {
  app = await synthesize();
});

describe("Storage stack", () => {
  it("sends every object event of the data bucket to EventBridge", () => {
    // Arrange
    const { storage } = app;

    // Act
    const notifications = storage.findResources("Custom::S3BucketNotifications");

    // Assert
    expect(Object.values(notifications)).toHaveLength(1);
    storage.hasResourceProperties("Custom::S3BucketNotifications", {
      NotificationConfiguration: { EventBridgeConfiguration: {} },
    });
  });

  it("answers the cross-origin GETs A2I's worker page makes for input images", () => {
    // Arrange
    const [, bucket] = onlyResource(app.storage, "AWS::S3::Bucket");

    // Act
    const rules = (bucket.Properties.CorsConfiguration as { CorsRules: unknown[] }).CorsRules;

    // Assert
    expect(rules).toEqual([
      expect.objectContaining({
        AllowedMethods: A2I_CORS_RULE.allowedMethods,
        AllowedOrigins: A2I_CORS_RULE.allowedOrigins,
      }),
    ]);
  });

  it("blocks all public access, encrypts at rest and refuses plain HTTP", () => {
    // Arrange
    const { storage } = app;

    // Act
    const [, bucket] = onlyResource(storage, "AWS::S3::Bucket");

    // Assert
    expect(bucket.Properties.PublicAccessBlockConfiguration).toEqual({
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    });
    expect(bucket.Properties.BucketEncryption).toEqual({
      ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: "AES256" } }],
    });
    storage.hasResourceProperties("AWS::S3::BucketPolicy", {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: "Deny", Condition: { Bool: { "aws:SecureTransport": "false" } } }),
        ]),
      },
    });
  });

  it("keeps the data bucket, and the labels in it, when the stack is deleted", () => {
    // Arrange
    const { storage } = app;

    // Act
    const [, bucket] = onlyResource(storage, "AWS::S3::Bucket");

    // Assert
    expect(bucket.DeletionPolicy).toBe("Retain");
    expect(bucket.UpdateReplacePolicy).toBe("Retain");
  });

  it("creates one settings parameter per setting, named under the stage's path, holding its default", () => {
    // Arrange
    const defaults = Settings.toParameters(Settings.defaults());

    // Act
    const parameters = Object.values(app.storage.findResources("AWS::SSM::Parameter")).map(
      (resource) => resource.Properties as { Name: string; Value: string; Type: string },
    );

    // Assert
    expect(parameters).toHaveLength(Settings.keys.length);
    for (const key of Settings.keys) {
      const suffix = Settings.parameterName(key);
      const expected = defaults[suffix] === "" ? EMPTY_SETTING_VALUE : defaults[suffix];
      expect(parameters).toContainEqual(
        expect.objectContaining({ Name: `${settingsPath(STAGE)}${suffix}`, Value: expected, Type: "String" }),
      );
    }
  });

  it("stores an empty setting as a blank that reads back as the empty default", () => {
    // Arrange
    const suffix = Settings.parameterName("activeModelVersionArn");
    const [, parameter] = onlyResource(app.storage, "AWS::SSM::Parameter", {
      Name: `${settingsPath(STAGE)}${suffix}`,
    });

    // Act
    const readBack = Settings.fromParameters({ [suffix]: parameter.Properties.Value as string });

    // Assert
    expect(parameter.Properties.Value).toBe(EMPTY_SETTING_VALUE);
    expect(readBack.activeModelVersionArn).toBe(Settings.defaults().activeModelVersionArn);
  });

  it("creates the stage's Rekognition Custom Labels project", () => {
    // Arrange
    const { storage } = app;

    // Act
    const [, project] = onlyResource(storage, "AWS::Rekognition::Project");

    // Assert
    expect(project.Properties).toEqual({ ProjectName: `${APP_NAME}-${STAGE}` });
  });

  it("lets Custom Labels in this account read only the training data and write only model output", () => {
    // Arrange
    const [, policy] = onlyResource(app.storage, "AWS::S3::BucketPolicy");
    const statements = (policy.Properties.PolicyDocument as { Statement: Record<string, unknown>[] })
      .Statement;

    // Act
    const forRekognition = statements.filter(
      (statement) =>
        JSON.stringify(statement.Principal) === JSON.stringify({ Service: "rekognition.amazonaws.com" }),
    );

    // Assert
    expect(forRekognition).toHaveLength(3);
    for (const statement of forRekognition) {
      expect(statement.Condition).toEqual({ StringEquals: { "aws:SourceAccount": expect.anything() } });
    }
    const text = JSON.stringify(forRekognition);
    expect(text).toContain(`/${Prefixes.labeled}*`);
    expect(text).toContain(`/${Prefixes.trainingManifests}*`);
    expect(text).toContain(`/${Prefixes.modelOutput}*`);
    expect(text).not.toContain(`/${Prefixes.detection}*`);
  });
});
