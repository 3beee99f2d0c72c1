import { ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { Prefixes } from "@secondlook/core/blueprint";
import { InvalidInputError } from "@secondlook/core/errors";
import { parseClassificationManifest } from "@secondlook/core/manifest";
import type { ObjectStore } from "@secondlook/core/ports";
import { Settings } from "@secondlook/core/settings";
import {
  AUTOMATIC_REASON,
  createTrainingPlanner,
  type ListedObject,
  listS3Objects,
  type RunningTraining,
  versionNameOf,
} from "@secondlook/functions/handlers/build-training-manifest";
import { mockClient } from "aws-sdk-client-mock";
import { describe, expect, it } from "vitest";
import { untyped } from "./fakes";

const BUCKET = "secondlook-test-data";
const EXECUTION = "crossing-40-2026-11-21";
const CREATED = new Date("2026-11-20T10:00:00.000Z");
const MACHINE = "arn:aws:states:us-east-1:111122223333:stateMachine:secondlook-test-train-model";

const labeled = (label: string, file: string): ListedObject => ({
  key: `${Prefixes.labeled}${label}/${file}`,
  lastModified: CREATED,
});

/** Only `put` is part of this handler's contract; the other methods fail loudly if ever called. */
function memoryStore() {
  const puts: { bucket: string; key: string; body: string; contentType?: string }[] = [];
  const unused = async (): Promise<never> => {
    throw new Error("not used by BuildTrainingManifest");
  };
  const store: ObjectStore = {
    get: unused,
    head: unused,
    putIfAbsent: unused,
    putIfMatch: unused,
    copy: unused,
    async put(ref, body, contentType) {
      puts.push({ ...ref, body, contentType });
      return { etag: '"1"' };
    },
  };
  return { store, puts };
}

function planner(
  objects: ListedObject[],
  overrides: Partial<Settings> = {},
  running: RunningTraining[] = [],
) {
  const { store, puts } = memoryStore();
  const listed: string[] = [];
  const plan = createTrainingPlanner({
    bucket: BUCKET,
    store,
    running: async function* (stateMachineArn) {
      listed.push(stateMachineArn);
      yield* running;
    },
    settings: { load: async () => ({ ...Settings.defaults(), ...overrides }) },
    list: async function* (prefix) {
      listed.push(prefix);
      for (const object of objects) if (object.key.startsWith(prefix)) yield object;
    },
  });
  return { plan, puts, listed };
}

describe("BuildTrainingManifest", () => {
  it("writes one Ground Truth classification line per labeled image and returns the training plan", async () => {
    // Arrange
    const active = "arn:aws:rekognition:us-east-1:111122223333:project/p/version/v1/1";
    const { plan, puts } = planner(
      [labeled("acme", "a.png"), labeled("acme", "b.png"), labeled("globex", "c.jpg")],
      { activeModelVersionArn: active, minF1ToDeploy: 0.9 },
    );

    // Act
    const result = await plan({ executionName: EXECUTION, input: { reason: AUTOMATIC_REASON } });

    // Assert
    const manifest = { bucket: BUCKET, key: `${Prefixes.trainingManifests}${EXECUTION}.manifest` };
    expect(result).toEqual({
      train: true,
      versionName: EXECUTION,
      manifest,
      labels: { acme: 2, globex: 1 },
      imageCount: 3,
      settings: {
        minF1ToDeploy: 0.9,
        minInferenceUnits: Settings.defaults().minInferenceUnits,
        trainingPollSeconds: Settings.defaults().trainingPollSeconds,
        deployPollSeconds: Settings.defaults().deployPollSeconds,
        activeModelVersionArn: active,
      },
    });
    expect(puts).toHaveLength(1);
    expect(puts[0]).toMatchObject(manifest);
    const lines = parseClassificationManifest(puts[0]?.body ?? "");
    expect(lines.map((line) => line["source-ref"])).toEqual([
      `s3://${BUCKET}/${Prefixes.labeled}acme/a.png`,
      `s3://${BUCKET}/${Prefixes.labeled}acme/b.png`,
      `s3://${BUCKET}/${Prefixes.labeled}globex/c.jpg`,
    ]);
  });

  it("leaves out keys that are not images directly inside a label folder", async () => {
    // Arrange
    const { plan, puts } = planner([
      labeled("acme", "a.png"),
      labeled("globex", "b.png"),
      { key: `${Prefixes.labeled}stray.png`, lastModified: CREATED },
      { key: `${Prefixes.labeled}acme/nested/c.png`, lastModified: CREATED },
    ]);

    // Act
    const result = await plan({ executionName: EXECUTION });

    // Assert
    expect(result).toMatchObject({ train: true, imageCount: 2, labels: { acme: 1, globex: 1 } });
    expect(parseClassificationManifest(puts[0]?.body ?? "")).toHaveLength(2);
  });

  it("does not train, and says why, while fewer than two labels have images", async () => {
    // Arrange
    const { plan, puts } = planner([labeled("acme", "a.png"), labeled("acme", "b.png")]);

    // Act
    const result = await plan({ executionName: EXECUTION });

    // Assert
    expect(result).toEqual({ train: false, reason: expect.stringMatching(/at least 2 labels; found 1/) });
    expect(puts).toEqual([]);
  });

  it("does not start an automatic training while automatic training is off", async () => {
    // Arrange
    const { plan, puts, listed } = planner([labeled("acme", "a.png"), labeled("globex", "b.png")], {
      autoTrainingEnabled: false,
    });

    // Act
    const result = await plan({ executionName: EXECUTION, input: { reason: AUTOMATIC_REASON } });

    // Assert
    expect(result).toEqual({ train: false, reason: expect.stringMatching(/auto-training-enabled/) });
    expect(listed).toEqual([]);
    expect(puts).toEqual([]);
  });

  it("still trains when an operator starts it by hand with automatic training off", async () => {
    // Arrange
    const { plan } = planner([labeled("acme", "a.png"), labeled("globex", "b.png")], {
      autoTrainingEnabled: false,
    });

    // Act
    const result = await plan({ executionName: EXECUTION, input: { reason: "operator" } });

    // Assert
    expect(result.train).toBe(true);
  });

  it("does not train while an earlier train-model execution is still running", async () => {
    // Arrange
    const startTime = "2026-11-21T10:00:01.000Z";
    const { plan, puts } = planner([labeled("acme", "a.png"), labeled("globex", "b.png")], {}, [
      { name: "retrain-3", startDate: new Date("2026-11-21T10:00:00.000Z") },
      { name: EXECUTION, startDate: new Date(startTime) },
    ]);

    // Act
    const result = await plan({ executionName: EXECUTION, stateMachineArn: MACHINE, startTime });

    // Assert
    expect(result).toEqual({ train: false, reason: "Training retrain-3 is already in progress." });
    expect(puts).toEqual([]);
  });

  it("trains when the only other running trainings started after it, or at once with a later name", async () => {
    // Arrange
    const startTime = "2026-11-21T10:00:01.000Z";
    const { plan, listed } = planner([labeled("acme", "a.png"), labeled("globex", "b.png")], {}, [
      { name: EXECUTION, startDate: new Date(startTime) },
      { name: "zz-same-instant", startDate: new Date(startTime) },
      { name: "aa-later", startDate: new Date("2026-11-21T10:00:02.000Z") },
    ]);

    // Act
    const result = await plan({ executionName: EXECUTION, stateMachineArn: MACHINE, startTime });

    // Assert
    expect(result.train).toBe(true);
    expect(listed).toContain(MACHINE);
  });

  it("rejects a payload without an execution name with InvalidInputError and writes nothing", async () => {
    // Arrange
    const { plan, puts } = planner([labeled("acme", "a.png"), labeled("globex", "b.png")]);

    // Act
    const attempt = plan({ input: {} });

    // Assert
    await expect(attempt).rejects.toBeInstanceOf(InvalidInputError);
    await expect(attempt).rejects.toThrow(/executionName/);
    expect(puts).toEqual([]);
  });
});

describe("versionNameOf", () => {
  it("keeps only the characters Custom Labels allows in a version name", () => {
    // Arrange
    const executionName = "train 2026:11/21_ok.v1-x";

    // Act
    const name = versionNameOf(executionName);

    // Assert
    expect(name).toBe("train-2026-11-21_ok.v1-x");
    expect(name).toMatch(/^[a-zA-Z0-9_.-]{1,255}$/);
  });
});

describe("listS3Objects", () => {
  it("follows ListObjectsV2 continuation tokens until the last page", async () => {
    // Arrange
    const mock = mockClient(untyped(S3Client));
    mock
      .on(untyped(ListObjectsV2Command), { Bucket: BUCKET, Prefix: Prefixes.labeled })
      .resolvesOnce(
        untyped({
          Contents: [{ Key: `${Prefixes.labeled}acme/a.png`, LastModified: CREATED }],
          IsTruncated: true,
          NextContinuationToken: "page-2",
        }),
      )
      .resolvesOnce(
        untyped({ Contents: [{ Key: `${Prefixes.labeled}globex/b.png`, LastModified: CREATED }] }),
      );
    const list = listS3Objects(new S3Client({ region: "us-east-1" }), BUCKET);

    // Act
    const keys: string[] = [];
    for await (const object of list(Prefixes.labeled)) keys.push(object.key);

    // Assert
    expect(keys).toEqual([`${Prefixes.labeled}acme/a.png`, `${Prefixes.labeled}globex/b.png`]);
    expect(mock.commandCalls(untyped(ListObjectsV2Command))[1]?.args[0].input).toMatchObject({
      ContinuationToken: "page-2",
    });
    mock.restore();
  });
});
