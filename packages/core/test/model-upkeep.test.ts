import { describe, expect, it } from "vitest";
import {
  type Clock,
  CorruptStateError,
  createDetectService,
  createModelUpkeepService,
  type Detector,
  LAST_USED_KEY,
  type ModelHost,
  ModelNotReadyError,
  ModelUpkeep,
  type ObjectRef,
  type ObjectStore,
  Settings,
} from "../src/index";

const BUCKET = "data";
const ACTIVE = "arn:aws:rekognition:us-east-1:111122223333:project/p/version/v2/2";
const NOW = new Date("2026-11-21T10:30:00.000Z");
const clock: Clock = { now: () => NOW };
const minutesAgo = (minutes: number) => new Date(NOW.getTime() - minutes * 60_000).toISOString();

/** An ObjectStore of plain puts and gets (the idle check needs nothing conditional). */
function memoryStore(initial: Record<string, string> = {}) {
  const objects = new Map(Object.entries(initial));
  const unused = async (): Promise<never> => {
    throw new Error("not used by the idle check");
  };
  const store: ObjectStore = {
    get: async (ref: ObjectRef) => {
      const body = objects.get(ref.key);
      return body === undefined ? undefined : { body, etag: '"1"' };
    },
    put: async (ref, body) => {
      objects.set(ref.key, body);
      return { etag: '"1"' };
    },
    head: unused,
    putIfAbsent: unused,
    putIfMatch: unused,
    copy: unused,
  };
  return { store, objects };
}

function modelHost() {
  const calls: string[] = [];
  const host: ModelHost = {
    start: async (arn, units) => {
      calls.push(`start ${arn} ${units}`);
      return true;
    },
    stop: async (arn) => {
      calls.push(`stop ${arn}`);
      return true;
    },
  };
  return { host, calls };
}

const settings = (change: Partial<Settings>) => ({
  load: async () => ({ ...Settings.defaults(), activeModelVersionArn: ACTIVE, ...change }),
});

const lastUsed = (at: string, modelVersionArn = ACTIVE) => JSON.stringify({ modelVersionArn, at });

describe("ModelUpkeep.decide", () => {
  it("stops the active version once it has been idle for the configured minutes", () => {
    // Arrange
    const input = {
      settings: { modelIdleStopMinutes: 30, activeModelVersionArn: ACTIVE },
      lastUsed: { modelVersionArn: ACTIVE, at: minutesAgo(31) },
      now: NOW,
    };

    // Act
    const decision = ModelUpkeep.decide(input);

    // Assert
    expect(decision).toMatchObject({ action: "stop", modelVersionArn: ACTIVE });
  });

  it.each([
    [
      "idle stop is off",
      { modelIdleStopMinutes: 0, activeModelVersionArn: ACTIVE },
      minutesAgo(600),
      /is off/,
    ],
    [
      "no model is active",
      { modelIdleStopMinutes: 30, activeModelVersionArn: "" },
      minutesAgo(600),
      /No model/,
    ],
    [
      "it was used recently",
      { modelIdleStopMinutes: 30, activeModelVersionArn: ACTIVE },
      minutesAgo(5),
      /Idle for 5.0 of 30/,
    ],
  ])("keeps the model running when %s", (_, current, at, reason) => {
    // Arrange
    const input = { settings: current, lastUsed: { modelVersionArn: ACTIVE, at }, now: NOW };

    // Act
    const decision = ModelUpkeep.decide(input);

    // Assert
    expect(decision).toEqual({ action: "keep", reason: expect.stringMatching(reason) });
  });

  it("keeps a newly promoted version whose use was never recorded", () => {
    // Arrange
    const input = {
      settings: { modelIdleStopMinutes: 30, activeModelVersionArn: ACTIVE },
      lastUsed: {
        modelVersionArn: "arn:aws:rekognition:us-east-1:111122223333:project/p/version/v1/1",
        at: minutesAgo(600),
      },
      now: NOW,
    };

    // Act
    const decision = ModelUpkeep.decide(input);

    // Assert
    expect(decision).toEqual({ action: "keep", reason: expect.stringMatching(/no recorded use/) });
  });
});

describe("createModelUpkeepService", () => {
  it("stops an idle active version through the model host", async () => {
    // Arrange
    const { store } = memoryStore({ [LAST_USED_KEY]: lastUsed(minutesAgo(45)) });
    const { host, calls } = modelHost();
    const upkeep = createModelUpkeepService({
      store,
      models: host,
      settings: settings({ modelIdleStopMinutes: 30 }),
      clock,
      bucket: BUCKET,
    });

    // Act
    const outcome = await upkeep.stopIfIdle();

    // Assert
    expect(outcome).toMatchObject({ action: "stop", stopped: true });
    expect(calls).toEqual([`stop ${ACTIVE}`]);
  });

  it("starts the idle clock of a version with no recorded use instead of stopping it", async () => {
    // Arrange
    const { store, objects } = memoryStore();
    const { host, calls } = modelHost();
    const upkeep = createModelUpkeepService({
      store,
      models: host,
      settings: settings({ modelIdleStopMinutes: 30 }),
      clock,
      bucket: BUCKET,
    });

    // Act
    const outcome = await upkeep.stopIfIdle();

    // Assert
    expect(outcome).toMatchObject({ action: "keep", stopped: false });
    expect(calls).toEqual([]);
    expect(JSON.parse(objects.get(LAST_USED_KEY) ?? "{}")).toEqual({
      modelVersionArn: ACTIVE,
      at: NOW.toISOString(),
    });
  });

  it("reports a use record that does not parse with CorruptStateError and stops nothing", async () => {
    // Arrange
    const { store } = memoryStore({ [LAST_USED_KEY]: "{not json" });
    const { host, calls } = modelHost();
    const upkeep = createModelUpkeepService({
      store,
      models: host,
      settings: settings({ modelIdleStopMinutes: 30 }),
      clock,
      bucket: BUCKET,
    });

    // Act
    const attempt = upkeep.stopIfIdle();

    // Assert
    await expect(attempt).rejects.toBeInstanceOf(CorruptStateError);
    expect(calls).toEqual([]);
  });
});

describe("detection with model upkeep", () => {
  const event = {
    source: "aws.s3",
    "detail-type": "Object Created",
    detail: { bucket: { name: BUCKET }, object: { key: "images_for_detection/a.png", etag: "e1" } },
  };

  it("starts a stopped model and still reports ModelNotReadyError so the state machine retries", async () => {
    // Arrange
    const detector: Detector = {
      detect: async () => {
        throw new ModelNotReadyError("not running");
      },
    };
    const { host, calls } = modelHost();
    const detect = createDetectService({
      detector,
      settings: settings({ minInferenceUnits: 2 }),
      upkeep: { models: host, used: async () => undefined },
    });

    // Act
    const attempt = detect.detect({ event, executionName: "exec-1" });

    // Assert
    await expect(attempt).rejects.toBeInstanceOf(ModelNotReadyError);
    expect(calls).toEqual([`start ${ACTIVE} 2`]);
  });

  it("records each answered detection as a use of the version", async () => {
    // Arrange
    const detector: Detector = { detect: async () => ({ CustomLabels: [{ Name: "acme", Confidence: 97 }] }) };
    const { host, calls } = modelHost();
    const used: string[] = [];
    const detect = createDetectService({
      detector,
      settings: settings({}),
      upkeep: { models: host, used: async (arn) => void used.push(arn) },
    });

    // Act
    const result = await detect.detect({ event, executionName: "exec-1" });

    // Assert
    expect(result.detection).toMatchObject({ label: "acme", modelVersionArn: ACTIVE });
    expect(used).toEqual([ACTIVE]);
    expect(calls).toEqual([]);
  });

  it("still answers when recording the use fails", async () => {
    // Arrange
    const detector: Detector = { detect: async () => ({ CustomLabels: [{ Name: "acme", Confidence: 97 }] }) };
    const { host } = modelHost();
    const detect = createDetectService({
      detector,
      settings: settings({}),
      upkeep: {
        models: host,
        used: async () => {
          throw new Error("S3 is down");
        },
      },
    });

    // Act
    const result = await detect.detect({ event, executionName: "exec-1" });

    // Assert
    expect(result.detection.label).toBe("acme");
  });
});
