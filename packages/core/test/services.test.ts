import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  type Clock,
  CounterConflictError,
  createLabelingService,
  createReviewService,
  HumanLoop,
  InvalidInputError,
  type ObjectRef,
  type ObjectStore,
  Prefixes,
  Retrain,
  type Settings,
  type SettingsSource,
  type TaskCallback,
  WriteConflictError,
} from "../src/index";

const BUCKET = "data";

/** An in-memory ObjectStore with real conditional-write semantics. */
function memoryStore() {
  const objects = new Map<string, { body: string; etag: string }>();
  const id = (ref: ObjectRef) => `${ref.bucket}/${ref.key}`;
  const etagOf = (body: string) => createHash("md5").update(body).digest("hex");
  const store: ObjectStore = {
    get: async (ref) => objects.get(id(ref)),
    head: async (ref) => {
      const found = objects.get(id(ref));
      return found && { etag: found.etag, size: found.body.length };
    },
    put: async (ref, body) => {
      const etag = etagOf(body);
      objects.set(id(ref), { body, etag });
      return { etag };
    },
    putIfAbsent: async (ref, body) => (objects.has(id(ref)) ? undefined : store.put(ref, body)),
    putIfMatch: async (ref, body, etag) => {
      if (objects.get(id(ref))?.etag !== etag) throw new WriteConflictError(`${ref.key} changed`);
      return store.put(ref, body);
    },
    copy: async (from, to) => {
      const found = objects.get(id(from));
      if (found) objects.set(id(to), { ...found });
    },
  };
  return { store, objects };
}

const clock: Clock = { now: () => new Date("2026-01-01T00:00:10.000Z") };
const settingsOf = (change: Partial<Settings>): SettingsSource => ({
  load: async () => ({
    minConfidence: 70,
    humanReviewEnabled: true,
    humanSamplingPercent: 0,
    autoTrainingEnabled: true,
    minUntrainedImages: 2,
    minF1ToDeploy: 0.8,
    minInferenceUnits: 1,
    trainingPollSeconds: 120,
    deployPollSeconds: 30,
    modelIdleStopMinutes: 0,
    activeModelVersionArn: "",
    labels: ["AWS", "Amazon"],
    ...change,
  }),
});

describe("createLabelingService().checkRetrain", () => {
  it("recovers an execution whose counter write landed but whose marker did not", async () => {
    // Arrange
    const { store, objects } = memoryStore();
    const service = createLabelingService({ store, settings: settingsOf({}), clock, bucket: BUCKET });
    await service.checkRetrain({ executionName: "e1" });
    const first = await service.checkRetrain({ executionName: "e2" });
    objects.delete(`${BUCKET}/${Retrain.markerKey("e2")}`);

    // Act
    const retried = await service.checkRetrain({ executionName: "e2" });

    // Assert
    expect(first).toEqual({ due: true, trainingName: "retrain-1" });
    expect(retried).toEqual(first);
    expect(JSON.parse(objects.get(`${BUCKET}/${Retrain.counterKey}`)?.body ?? "")).toMatchObject({
      generation: 1,
      untrained: 0,
    });
  });

  it("counts two concurrent labels once each: the one that loses the race re-reads and counts again", async () => {
    // Arrange
    const { store, objects } = memoryStore();
    const service = createLabelingService({
      store,
      settings: settingsOf({ minUntrainedImages: 10 }),
      clock,
      bucket: BUCKET,
    });
    await service.checkRetrain({ executionName: "e0" });

    // Act
    const results = await Promise.allSettled([
      service.checkRetrain({ executionName: "e1" }),
      service.checkRetrain({ executionName: "e2" }),
    ]);

    // Assert
    expect(results.map((result) => result.status)).toEqual(["fulfilled", "fulfilled"]);
    expect(JSON.parse(objects.get(`${BUCKET}/${Retrain.counterKey}`)?.body ?? "")).toMatchObject({
      untrained: 3,
    });
  });

  it("reports CounterConflictError when the counter keeps changing under every re-read", async () => {
    // Arrange
    const { store, objects } = memoryStore();
    const racing: ObjectStore = {
      ...store,
      putIfMatch: async (ref) => {
        throw new WriteConflictError(`${ref.key} changed`);
      },
    };
    const service = createLabelingService({
      store: racing,
      settings: settingsOf({ minUntrainedImages: 10 }),
      clock,
      bucket: BUCKET,
    });
    objects.set(`${BUCKET}/${Retrain.counterKey}`, {
      body: JSON.stringify({ generation: 0, untrained: 1, recent: [] }),
      etag: "1",
    });

    // Act
    const counting = service.checkRetrain({ executionName: "e1" });

    // Assert
    await expect(counting).rejects.toBeInstanceOf(CounterConflictError);
  });
});

describe("createLabelingService().keepNegative", () => {
  const loopName = "review-0123456789abcdef0123456789abcdef-0";
  const image = {
    bucket: BUCKET,
    key: "images_for_detection/cat.png",
    uri: "s3://data/images_for_detection/cat.png",
  };
  const reviewOf = (outcome: "none-of-the-above" | "labeled", label: string | null) => ({
    loopName,
    outcome,
    label,
    votes: [{ label: label ?? "None of the Above", count: 1 }],
    answers: [],
    outputUri: "s3://data/a2i-output/x/output.json",
  });

  it("copies a None of the Above image under negative_examples/ to the same key however often it runs", async () => {
    // Arrange
    const { store, objects } = memoryStore();
    objects.set(`${BUCKET}/${image.key}`, { body: "png", etag: "1" });
    const service = createLabelingService({ store, settings: settingsOf({}), clock, bucket: BUCKET });
    const payload = { image, review: reviewOf("none-of-the-above", null) };

    // Act
    const first = await service.keepNegative(payload);
    const retried = await service.keepNegative(payload);

    // Assert
    expect(first.key.startsWith(`${Prefixes.negatives}${loopName}-`)).toBe(true);
    expect(first.key.endsWith("-cat.png")).toBe(true);
    expect(retried).toEqual(first);
    expect(objects.get(`${BUCKET}/${first.key}`)?.body).toBe("png");
    expect([...objects.keys()].filter((k) => k.includes(Prefixes.labeled))).toEqual([]);
  });

  it("refuses a labeled review and a malformed payload with InvalidInputError, writing nothing", async () => {
    // Arrange
    const { store, objects } = memoryStore();
    const service = createLabelingService({ store, settings: settingsOf({}), clock, bucket: BUCKET });

    // Act
    const labeled = service.keepNegative({ image, review: reviewOf("labeled", "AWS") });
    const malformed = service.keepNegative({ image });

    // Assert
    await expect(labeled).rejects.toBeInstanceOf(InvalidInputError);
    await expect(malformed).rejects.toBeInstanceOf(InvalidInputError);
    expect(objects.size).toBe(0);
  });
});

describe("createReviewService().start", () => {
  it("re-invokes an attempt with the categories it first offered when the labels setting changed since", async () => {
    // Arrange
    const { store } = memoryStore();
    const offered: string[][] = [];
    let labels = ["AWS", "Amazon"];
    const service = createReviewService({
      store,
      reviews: {
        start: async ({ inputContent }) => {
          offered.push((JSON.parse(inputContent) as { categories: string[] }).categories);
          return { humanLoopArn: "arn:loop" };
        },
      },
      callback: { succeed: async () => true, fail: async () => true },
      settings: { load: async () => ({ ...(await settingsOf({}).load()), labels }) },
      clock,
      bucket: BUCKET,
    });
    const attempt = {
      taskToken: "tok-1",
      executionName: "e",
      retryCount: 0,
      image: {
        bucket: BUCKET,
        key: "images_for_detection/a.png",
        uri: `s3://${BUCKET}/images_for_detection/a.png`,
      },
      detection: {
        label: null,
        confidence: 0,
        modelVersionArn: null,
        minConfidence: 70,
        humanReviewEnabled: true,
        sampled: false,
        reason: "low-confidence" as const,
      },
    };
    await service.start(attempt);
    labels = ["AWS", "Amazon", "Zappos"];

    // Act
    const again = await service.start(attempt);
    const clash = service.start({ ...attempt, taskToken: "tok-2" });

    // Assert
    expect(again.loopName).toBe(HumanLoop.name("e", 0));
    expect(offered).toEqual([
      ["AWS", "Amazon", "None of the Above"],
      ["AWS", "Amazon", "None of the Above"],
    ]);
    await expect(clash).rejects.toMatchObject({ name: "HumanLoopConflictError" });
  });
});

describe("createReviewService().onStatus", () => {
  it("fails the task with the loop-state token when output.json cannot be read", async () => {
    // Arrange
    const { store } = memoryStore();
    const sent: { token: string; error: string }[] = [];
    const callback: TaskCallback = {
      succeed: async () => true,
      fail: async (token, error) => {
        sent.push({ token, error });
        return true;
      },
    };
    const service = createReviewService({
      store,
      reviews: { start: async () => ({ humanLoopArn: "arn:loop" }) },
      callback,
      settings: settingsOf({}),
      clock,
      bucket: BUCKET,
    });
    const image = {
      bucket: BUCKET,
      key: "images_for_detection/a.png",
      uri: `s3://${BUCKET}/images_for_detection/a.png`,
    };
    const detection = {
      label: null,
      confidence: 0,
      modelVersionArn: null,
      minConfidence: 70,
      humanReviewEnabled: true,
      sampled: false,
      reason: "low-confidence" as const,
    };
    const { loopName } = await service.start({
      taskToken: "tok",
      executionName: "e",
      retryCount: 0,
      image,
      detection,
    });
    await store.put({ bucket: BUCKET, key: "a2i-output/o.json" }, "{truncated");
    const event = {
      source: "aws.sagemaker",
      "detail-type": "SageMaker A2I HumanLoop Status Change",
      detail: {
        humanLoopName: loopName,
        humanLoopArn: `arn:aws:sagemaker:us-east-1:111122223333:human-loop/${loopName}`,
        flowDefinitionArn: "arn:fd",
        humanLoopStatus: "Completed",
        humanLoopOutput: { outputS3Uri: `s3://${BUCKET}/a2i-output/o.json` },
      },
    };

    // Act
    const handled = await service.onStatus(event);

    // Assert
    expect(handled).toEqual({ loopName, status: "Completed", error: "InvalidOutputError", delivered: true });
    expect(sent).toEqual([{ token: "tok", error: "InvalidOutputError" }]);
    expect(HumanLoop.validateName(loopName)).toBe(loopName);
  });
});
