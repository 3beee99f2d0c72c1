import { createHash } from "node:crypto";
import {
  CreateFlowDefinitionCommand,
  type CreateFlowDefinitionCommandInput,
  CreateHumanTaskUiCommand,
  DeleteFlowDefinitionCommand,
  DeleteHumanTaskUiCommand,
  DescribeFlowDefinitionCommand,
  DescribeHumanTaskUiCommand,
  ListFlowDefinitionsCommand,
  ListHumanTaskUisCommand,
  RenderUiTemplateCommand,
} from "@aws-sdk/client-sagemaker";
import { DescribeHumanLoopCommand, StartHumanLoopCommand } from "@aws-sdk/client-sagemaker-a2i-runtime";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { aWorker } from "./fakes";
import {
  ACTIVATION_DELAY_MS,
  anActiveFlow,
  type Harness,
  inputFor,
  ROLE_ARN,
  startHarness,
  startLoop,
  TEMPLATE,
  WORKTEAM_ARN,
} from "./harness";

type SdkError = { name: string; message: string; $metadata: { httpStatusCode?: number } };

async function failure(promise: Promise<unknown>): Promise<SdkError> {
  return promise.then(
    () => {
      throw new Error("expected the call to fail");
    },
    (error: SdkError) => error,
  );
}

describe("SageMaker flow definitions and human task UIs", () => {
  let h: Harness;
  let uiArn: string;

  const flowInput = (
    overrides: Partial<NonNullable<CreateFlowDefinitionCommandInput["HumanLoopConfig"]>> = {},
    name = "flow",
  ) =>
    ({
      FlowDefinitionName: name,
      RoleArn: ROLE_ARN,
      OutputConfig: { S3OutputPath: "s3://data-bucket/a2i-output" },
      HumanLoopConfig: {
        WorkteamArn: WORKTEAM_ARN,
        HumanTaskUiArn: uiArn,
        TaskTitle: "Title",
        TaskDescription: "Description",
        TaskCount: 1,
        ...overrides,
      },
    }) satisfies CreateFlowDefinitionCommandInput;

  beforeEach(async () => {
    h = await startHarness();
    const ui = await h.sagemaker.send(
      new CreateHumanTaskUiCommand({ HumanTaskUiName: "logo-ui", UiTemplate: { Content: TEMPLATE } }),
    );
    uiArn = ui.HumanTaskUiArn as string;
  });

  afterEach(async () => {
    await h.close();
  });

  describe("F1 CreateFlowDefinition enforces the HumanLoopConfig limits", () => {
    const invalid: [string, Partial<NonNullable<CreateFlowDefinitionCommandInput["HumanLoopConfig"]>>][] = [
      ["TaskCount 0", { TaskCount: 0 }],
      ["TaskCount 4", { TaskCount: 4 }],
      ["TaskTimeLimitInSeconds 29", { TaskTimeLimitInSeconds: 29 }],
      ["TaskTimeLimitInSeconds 28801", { TaskTimeLimitInSeconds: 28_801 }],
      ["TaskAvailabilityLifetimeInSeconds 0", { TaskAvailabilityLifetimeInSeconds: 0 }],
      ["TaskAvailabilityLifetimeInSeconds 864001", { TaskAvailabilityLifetimeInSeconds: 864_001 }],
      ["an empty TaskTitle", { TaskTitle: "" }],
      ["a 129-character TaskTitle", { TaskTitle: "t".repeat(129) }],
      ["an empty TaskDescription", { TaskDescription: "" }],
      ["a 256-character TaskDescription", { TaskDescription: "d".repeat(256) }],
      ["no TaskKeywords in the list", { TaskKeywords: [] }],
      ["six TaskKeywords", { TaskKeywords: ["a", "b", "c", "d", "e", "f"] }],
      ["a 31-character keyword", { TaskKeywords: ["k".repeat(31)] }],
      ["a keyword with punctuation", { TaskKeywords: ["logo!"] }],
      ["a keyword with a trailing space", { TaskKeywords: ["logo "] }],
    ];

    for (const [label, overrides] of invalid) {
      it(`rejects ${label} with ValidationException`, async () => {
        // Arrange
        const input = flowInput(overrides);

        // Act
        const error = await failure(h.sagemaker.send(new CreateFlowDefinitionCommand(input)));

        // Assert
        expect([error.name, error.$metadata.httpStatusCode]).toEqual(["ValidationException", 400]);
      });
    }

    it("rejects flow definition names outside the pattern or longer than 63 characters", async () => {
      // Arrange
      const names = ["Upper", "-lead", "trail-", "under_score", "x".repeat(64)];

      // Act
      const errors = await Promise.all(
        names.map((name) => failure(h.sagemaker.send(new CreateFlowDefinitionCommand(flowInput({}, name))))),
      );

      // Assert
      expect(errors.map((e) => e.name)).toEqual(Array(names.length).fill("ValidationException"));
    });

    it("rejects an S3OutputPath that is not an s3 or https URL and a malformed RoleArn", async () => {
      // Arrange
      const badPath = { ...flowInput(), OutputConfig: { S3OutputPath: "ftp://bucket/prefix" } };
      const badRole = { ...flowInput(), RoleArn: "arn:aws:iam::123:user/nobody" };

      // Act
      const pathError = await failure(h.sagemaker.send(new CreateFlowDefinitionCommand(badPath)));
      const roleError = await failure(h.sagemaker.send(new CreateFlowDefinitionCommand(badRole)));

      // Assert
      expect(pathError.name).toBe("ValidationException");
      expect(roleError.name).toBe("ValidationException");
    });

    it("accepts the limits themselves and applies the 3600-second default task time limit", async () => {
      // Arrange
      const input = flowInput({
        TaskCount: 3,
        TaskAvailabilityLifetimeInSeconds: 864_000,
        TaskTitle: "t".repeat(128),
        TaskDescription: "d".repeat(255),
        TaskKeywords: ["a", "b c", "d", "e", "k".repeat(30)],
      });

      // Act
      const created = await h.sagemaker.send(new CreateFlowDefinitionCommand(input));
      const described = await h.sagemaker.send(
        new DescribeFlowDefinitionCommand({ FlowDefinitionName: "flow" }),
      );

      // Assert
      expect(created.FlowDefinitionArn).toBe("arn:aws:sagemaker:us-east-1:000000000000:flow-definition/flow");
      expect(described.HumanLoopConfig).toMatchObject({ TaskCount: 3, TaskTimeLimitInSeconds: 3_600 });
      expect(described.OutputConfig).toEqual({ S3OutputPath: "s3://data-bucket/a2i-output" });
      expect(described.RoleArn).toBe(ROLE_ARN);
    });

    it("answers ResourceInUse for a second flow definition with the same name", async () => {
      // Arrange
      await h.sagemaker.send(new CreateFlowDefinitionCommand(flowInput()));

      // Act
      const error = await failure(h.sagemaker.send(new CreateFlowDefinitionCommand(flowInput())));

      // Assert
      expect(error.name).toBe("ResourceInUse");
    });

    it("rejects a flow definition whose human task UI does not exist", async () => {
      // Arrange
      const input = flowInput({
        HumanTaskUiArn: "arn:aws:sagemaker:us-east-1:000000000000:human-task-ui/missing",
      });

      // Act
      const error = await failure(h.sagemaker.send(new CreateFlowDefinitionCommand(input)));

      // Assert
      expect(error.name).toBe("ValidationException");
      expect(error.message).toContain("missing");
    });
  });

  it("F2 reports a new flow definition Initializing, then Active after the activation delay", async () => {
    // Arrange
    await h.sagemaker.send(new CreateFlowDefinitionCommand(flowInput()));

    // Act
    const first = await h.sagemaker.send(new DescribeFlowDefinitionCommand({ FlowDefinitionName: "flow" }));
    h.clock.advance(ACTIVATION_DELAY_MS);
    const later = await h.sagemaker.send(new DescribeFlowDefinitionCommand({ FlowDefinitionName: "flow" }));

    // Assert
    expect(first.FlowDefinitionStatus).toBe("Initializing");
    expect(later.FlowDefinitionStatus).toBe("Active");
    expect(later.CreationTime).toEqual(new Date("2026-03-04T05:06:07.890Z"));
  });

  it("F2 refuses StartHumanLoop against an unknown or not yet Active flow definition with ValidationException", async () => {
    // Arrange
    const created = await h.sagemaker.send(new CreateFlowDefinitionCommand(flowInput()));
    const start = (arn: string, name: string) =>
      h.runtime.send(
        new StartHumanLoopCommand({
          HumanLoopName: name,
          FlowDefinitionArn: arn,
          HumanLoopInput: { InputContent: inputFor(1) },
        }),
      );

    // Act
    const initializing = await failure(start(created.FlowDefinitionArn as string, "too-early"));
    const unknown = await failure(
      start("arn:aws:sagemaker:us-east-1:000000000000:flow-definition/nope", "unknown"),
    );
    h.clock.advance(ACTIVATION_DELAY_MS);
    const active = await start(created.FlowDefinitionArn as string, "in-time");

    // Assert
    expect([initializing.name, initializing.$metadata.httpStatusCode]).toEqual(["ValidationException", 400]);
    expect(initializing.message).toContain("Initializing");
    expect([unknown.name, unknown.$metadata.httpStatusCode]).toEqual(["ValidationException", 400]);
    expect(active.HumanLoopArn).toBe("arn:aws:sagemaker:us-east-1:000000000000:human-loop/in-time");
  });

  it("lists flow definitions with their status and deletes one, stopping its unclaimed loops", async () => {
    // Arrange
    const flowArn = await anActiveFlow(h, { name: "doomed" });
    await startLoop(h, flowArn, "orphan");

    // Act
    const listed = await h.sagemaker.send(new ListFlowDefinitionsCommand({}));
    await h.sagemaker.send(new DeleteFlowDefinitionCommand({ FlowDefinitionName: "doomed" }));
    const gone = await failure(
      h.sagemaker.send(new DescribeFlowDefinitionCommand({ FlowDefinitionName: "doomed" })),
    );
    const loop = await h.runtime.send(new DescribeHumanLoopCommand({ HumanLoopName: "orphan" }));

    // Assert
    expect(
      listed.FlowDefinitionSummaries?.map((f) => [f.FlowDefinitionName, f.FlowDefinitionStatus]),
    ).toEqual([["doomed", "Active"]]);
    expect(gone.name).toBe("ResourceNotFound");
    expect(loop.HumanLoopStatus).toBe("Stopped");
    expect(h.bus.events.map((e) => e.detail.humanLoopStatus)).toEqual(["Stopped"]);
  });

  it("keeps a loop a reviewer holds Stopping when its flow definition is deleted", async () => {
    // Arrange
    const flowArn = await anActiveFlow(h, { name: "held-flow" });
    await startLoop(h, flowArn, "held-loop");
    await h.a2i.queue.claimNext(aWorker(1));

    // Act
    await h.sagemaker.send(new DeleteFlowDefinitionCommand({ FlowDefinitionName: "held-flow" }));
    const loop = await h.runtime.send(new DescribeHumanLoopCommand({ HumanLoopName: "held-loop" }));

    // Assert
    expect(loop.HumanLoopStatus).toBe("Stopping");
  });

  it("describes a human task UI with its content hash and a URL that holds the template", async () => {
    // Arrange
    const name = "logo-ui";

    // Act
    const described = await h.sagemaker.send(new DescribeHumanTaskUiCommand({ HumanTaskUiName: name }));
    const fetched = await (await fetch(described.UiTemplate?.Url as string)).text();

    // Assert
    expect(described).toMatchObject({
      HumanTaskUiArn: "arn:aws:sagemaker:us-east-1:000000000000:human-task-ui/logo-ui",
      HumanTaskUiName: "logo-ui",
      HumanTaskUiStatus: "Active",
      CreationTime: new Date("2026-03-04T05:06:07.890Z"),
      UiTemplate: { ContentSha256: createHash("sha256").update(TEMPLATE).digest("hex") },
    });
    expect(fetched).toBe(TEMPLATE);
  });

  it("lists human task UIs, refuses a duplicate name and refuses to delete a UI a flow definition uses", async () => {
    // Arrange
    await h.sagemaker.send(
      new CreateHumanTaskUiCommand({ HumanTaskUiName: "spare-ui", UiTemplate: { Content: "<p/>" } }),
    );
    await h.sagemaker.send(new CreateFlowDefinitionCommand(flowInput()));

    // Act
    const duplicate = await failure(
      h.sagemaker.send(
        new CreateHumanTaskUiCommand({ HumanTaskUiName: "spare-ui", UiTemplate: { Content: "<p/>" } }),
      ),
    );
    const inUse = await failure(
      h.sagemaker.send(new DeleteHumanTaskUiCommand({ HumanTaskUiName: "logo-ui" })),
    );
    await h.sagemaker.send(new DeleteHumanTaskUiCommand({ HumanTaskUiName: "spare-ui" }));
    const listed = await h.sagemaker.send(new ListHumanTaskUisCommand({ SortOrder: "Ascending" }));
    const missing = await failure(
      h.sagemaker.send(new DescribeHumanTaskUiCommand({ HumanTaskUiName: "spare-ui" })),
    );

    // Assert
    expect(duplicate.name).toBe("ResourceInUse");
    expect(inUse.name).toBe("ResourceInUse");
    expect(listed.HumanTaskUiSummaries?.map((u) => u.HumanTaskUiName)).toEqual(["logo-ui"]);
    expect(missing.name).toBe("ResourceNotFound");
  });

  it("rejects a human task UI with an empty template or a bad name", async () => {
    // Arrange
    const empty = { HumanTaskUiName: "empty-ui", UiTemplate: { Content: "" } };
    const badName = { HumanTaskUiName: "Bad_UI", UiTemplate: { Content: "<p/>" } };

    // Act
    const errors = await Promise.all(
      [empty, badName].map((i) => failure(h.sagemaker.send(new CreateHumanTaskUiCommand(i)))),
    );

    // Assert
    expect(errors.map((e) => e.name)).toEqual(["ValidationException", "ValidationException"]);
  });

  it("pages flow definitions with MaxResults and NextToken", async () => {
    // Arrange
    for (const name of ["f-a", "f-b", "f-c"]) {
      await h.sagemaker.send(new CreateFlowDefinitionCommand(flowInput({}, name)));
      h.clock.advance(1_000);
    }

    // Act
    const first = await h.sagemaker.send(new ListFlowDefinitionsCommand({ MaxResults: 2 }));
    const second = await h.sagemaker.send(
      new ListFlowDefinitionsCommand({ MaxResults: 2, NextToken: first.NextToken }),
    );

    // Assert
    expect(first.FlowDefinitionSummaries?.map((f) => f.FlowDefinitionName)).toEqual(["f-c", "f-b"]);
    expect(second.FlowDefinitionSummaries?.map((f) => f.FlowDefinitionName)).toEqual(["f-a"]);
    expect(second.NextToken).toBeUndefined();
  });

  describe("W5 RenderUiTemplate", () => {
    it("returns RenderedContent and an empty Errors list for a valid template", async () => {
      // Arrange
      const input = { UiTemplate: { Content: TEMPLATE }, Task: { Input: inputFor(1) }, RoleArn: ROLE_ARN };

      // Act
      const rendered = await h.sagemaker.send(new RenderUiTemplateCommand(input));

      // Assert
      expect(rendered.Errors).toEqual([]);
      expect(rendered.RenderedContent).toContain(
        `src="http://127.0.0.1:1/presigned/${encodeURIComponent("s3://data-bucket/images_for_detection/1.png")}"`,
      );
      expect(rendered.RenderedContent).toContain('categories="[&quot;acme&quot;,&quot;globex&quot;]"');
    });

    it("renders a stored human task UI by ARN", async () => {
      // Arrange
      const input = { HumanTaskUiArn: uiArn, Task: { Input: inputFor(2) }, RoleArn: ROLE_ARN };

      // Act
      const rendered = await h.sagemaker.send(new RenderUiTemplateCommand(input));

      // Assert
      expect(rendered.Errors).toEqual([]);
      expect(rendered.RenderedContent).toContain("2.png");
    });

    it("reports a template error in Errors with a Code and Message instead of failing the request", async () => {
      // Arrange
      const input = {
        UiTemplate: { Content: "{% for x in task.input.labels %}" },
        Task: { Input: inputFor(1) },
        RoleArn: ROLE_ARN,
      };

      // Act
      const rendered = await h.sagemaker.send(new RenderUiTemplateCommand(input));

      // Assert
      expect(rendered.$metadata.httpStatusCode).toBe(200);
      expect(rendered.Errors).toEqual([
        { Code: "TemplateRenderError", Message: expect.stringContaining("for") },
      ]);
    });

    it("rejects a request with both UiTemplate and HumanTaskUiArn, or Task.Input that is not JSON", async () => {
      // Arrange
      const both = {
        UiTemplate: { Content: TEMPLATE },
        HumanTaskUiArn: uiArn,
        Task: { Input: "{}" },
        RoleArn: ROLE_ARN,
      };
      const notJson = { UiTemplate: { Content: TEMPLATE }, Task: { Input: "{nope" }, RoleArn: ROLE_ARN };

      // Act
      const errors = await Promise.all(
        [both, notJson].map((i) => failure(h.sagemaker.send(new RenderUiTemplateCommand(i)))),
      );

      // Assert
      expect(errors.map((e) => e.name)).toEqual(["ValidationException", "ValidationException"]);
    });
  });

  it("answers an operation it does not implement with a named error", async () => {
    // Arrange
    const request = {
      method: "POST",
      headers: {
        "x-amz-target": "SageMaker.CreateTrainingJob",
        "content-type": "application/x-amz-json-1.1",
      },
      body: "{}",
    };

    // Act
    const response = await fetch(h.endpoint, request);
    const body = await response.json();

    // Assert
    expect(response.status).toBe(400);
    expect(body.__type).toBe("com.amazonaws.sagemaker#UnknownOperationException");
  });
});
