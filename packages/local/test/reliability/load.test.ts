/**
 * Load on the real local cloud: a thousand human loops waiting at once with twenty reviewers working
 * through them over HTTP, and a hundred labels counted at the same moment.
 */
import {
  CreateFlowDefinitionCommand,
  DescribeFlowDefinitionCommand,
  SageMakerClient,
} from "@aws-sdk/client-sagemaker";
import { ListHumanLoopsCommand, StartHumanLoopCommand } from "@aws-sdk/client-sagemaker-a2i-runtime";
import { COUNTER_KEY, type RetrainState } from "@secondlook/core/retrain";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LOCAL_REGION } from "../../src/contracts";
import { cloudClients, putSetting } from "../../src/demo/bootstrap";
import { eventually, readObject, startTrainedCloud, type TrainedCloud } from "../e2e/support";
import type { Browserish } from "../portal/fakes";
import { signedInReviewer } from "./support";

let fixture: TrainedCloud;

beforeAll(async () => {
  fixture = await startTrainedCloud();
}, 180_000);

afterAll(async () => {
  await fixture?.close();
});

async function counter(): Promise<RetrainState> {
  const body = await readObject(fixture.cloud, COUNTER_KEY);
  return body
    ? (JSON.parse(body.toString("utf8")) as RetrainState)
    : { generation: 0, untrained: 0, recent: [] };
}

/**
 * A machine made of review-image's own CheckRetrain → IsRetrainingDue → StartRetraining states
 * (same handler, same Retry), so a hundred executions can reach CheckRetrain at the same moment.
 */
async function checkRetrainMachine() {
  const { states } = fixture.cloud.services;
  const reviewImage = JSON.parse(
    (await states.describeStateMachine(fixture.cloud.stateMachineArns.reviewImage)).definition,
  ) as { States: Record<string, Record<string, unknown>> };
  const pick = (name: string) => structuredClone(reviewImage.States[name]) as Record<string, unknown>;
  const check = pick("CheckRetrain");
  check.Catch = [{ ErrorEquals: ["States.ALL"], ResultPath: "$.failure", Next: "CountingFailed" }];
  const definition = {
    StartAt: "CheckRetrain",
    States: {
      CheckRetrain: check,
      IsRetrainingDue: pick("IsRetrainingDue"),
      StartRetraining: pick("StartRetraining"),
      Done: pick("Done"),
      CountingFailed: { Type: "Fail", ErrorPath: "$.failure.Error", CausePath: "$.failure.Cause" },
    },
  };
  const { stateMachineArn } = await states.createStateMachine({
    name: "check-retrain-burst",
    definition: JSON.stringify(definition),
  });
  return stateMachineArn;
}

describe("load", () => {
  it("counts 100 labels completed at the same moment exactly once each and starts one training (protects: the O(1) retrain counter under contention)", async () => {
    // Arrange
    const { states } = fixture.cloud.services;
    await putSetting(fixture.cloud, "autoTrainingEnabled", true);
    await putSetting(fixture.cloud, "minUntrainedImages", 100);
    const machine = await checkRetrainMachine();
    const before = await counter();
    const trainingsBefore = await states.listExecutions({
      stateMachineArn: fixture.cloud.stateMachineArns.trainModel,
    });

    // Act
    const started = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        states.startExecution({ stateMachineArn: machine, name: `burst-${i}`, input: "{}" }),
      ),
    );
    const ended = await Promise.all(
      started.map(({ executionArn }) =>
        eventually(
          `${executionArn} to end`,
          async () => {
            const described = await states.describeExecution(executionArn);
            return described.status === "RUNNING" ? undefined : described;
          },
          90_000,
        ),
      ),
    );

    // Assert
    expect(
      ended.filter((e) => e.status !== "SUCCEEDED").map((e) => `${e.name}: ${e.error} ${e.cause}`),
    ).toEqual([]);
    const after = await counter();
    const counted = (after.generation - before.generation) * 100 + after.untrained - before.untrained;
    expect(counted).toBe(100);
    expect(after.generation - before.generation).toBe(1);
    const trainings = await states.listExecutions({
      stateMachineArn: fixture.cloud.stateMachineArns.trainModel,
    });
    const newTrainings = trainings.executions.filter(
      (t) => !trainingsBefore.executions.some((b) => b.executionArn === t.executionArn),
    );
    expect(newTrainings.map((t) => t.name)).toEqual([`retrain-${after.generation}`]);
    for (const training of newTrainings) await states.stopExecution(training.executionArn);
  }, 120_000);

  it("lets 20 reviewers work through 1,000 waiting loops over HTTP, each loop answered exactly once (protects: the task queue under concurrent claims)", async () => {
    // Arrange
    const { cloud } = fixture;
    const sagemaker = new SageMakerClient({
      endpoint: cloud.endpoint,
      region: LOCAL_REGION,
      credentials: { accessKeyId: "secondlook", secretAccessKey: "secondlook-local" },
    });
    // A flow definition of its own: the workflow's status rule does not listen to it.
    const main = await sagemaker.send(
      new DescribeFlowDefinitionCommand({ FlowDefinitionName: cloud.flowDefinitionArn.split("/").pop() }),
    );
    const { FlowDefinitionArn: flowArn } = await sagemaker.send(
      new CreateFlowDefinitionCommand({
        FlowDefinitionName: "load-test-review",
        RoleArn: main.RoleArn,
        OutputConfig: { S3OutputPath: `s3://${cloud.bucket}/load-test-output` },
        // The suite's cloud runs at timeScale 0.05: a day of availability is 72 minutes here.
        HumanLoopConfig: {
          ...main.HumanLoopConfig,
          TaskCount: 1,
          TaskAvailabilityLifetimeInSeconds: 86_400,
          TaskTimeLimitInSeconds: 3_600,
        } as never,
      }),
    );
    const { a2i } = cloudClients(cloud.endpoint);
    await eventually("the flow definition to be active", async () => {
      const described = await sagemaker.send(
        new DescribeFlowDefinitionCommand({ FlowDefinitionName: "load-test-review" }),
      );
      return described.FlowDefinitionStatus === "Active" ? described : undefined;
    });
    const names = Array.from({ length: 1000 }, (_, i) => `load-${String(i).padStart(4, "0")}`);
    for (let i = 0; i < names.length; i += 50) {
      await Promise.all(
        names.slice(i, i + 50).map((name) =>
          a2i.send(
            new StartHumanLoopCommand({
              HumanLoopName: name,
              FlowDefinitionArn: flowArn,
              HumanLoopInput: {
                InputContent: JSON.stringify({
                  taskObject: `s3://${cloud.bucket}/images_for_detection/${name}.png`,
                  categories: ["a", "b"],
                }),
              },
            }),
          ),
        ),
      );
    }
    const reviewers: Browserish[] = [];
    for (let i = 0; i < 20; i++)
      reviewers.push(await signedInReviewer(cloud, `loader${String(i).padStart(2, "0")}`));

    // Act
    const answered: string[] = [];
    const refused: number[] = [];
    await Promise.all(
      reviewers.map(async (reviewer) => {
        const csrf = await reviewer.csrfFrom("/");
        const claimed = await reviewer.postForm("/work", { _csrf: csrf });
        await claimed.text();
        // Like the crowd-form, follow the task the submit answer points to next.
        let task = claimed.headers.get("location") ?? "";
        while (task.startsWith("/tasks/")) {
          const submitted = await reviewer.postJson(
            `${task}/submit`,
            { category: { label: "a" } },
            { "x-csrf-token": csrf },
          );
          const body = (await submitted.json()) as { next?: string };
          if (submitted.status === 200) answered.push(decodeURIComponent(task.slice("/tasks/".length)));
          else refused.push(submitted.status);
          task = body.next ?? "";
        }
      }),
    );

    // Assert
    expect(refused).toEqual([]);
    expect(answered.length).toBe(1000);
    expect(new Set(answered).size).toBe(1000);
    let completed = 0;
    let nextToken: string | undefined;
    do {
      const page = await a2i.send(
        new ListHumanLoopsCommand({ FlowDefinitionArn: flowArn, MaxResults: 100, NextToken: nextToken }),
      );
      completed += (page.HumanLoopSummaries ?? []).filter(
        (loop) => loop.HumanLoopStatus === "Completed",
      ).length;
      nextToken = page.NextToken;
    } while (nextToken);
    expect(completed).toBe(1000);
  }, 180_000);
});
