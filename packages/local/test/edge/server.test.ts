import { afterEach, describe, expect, it, vi } from "vitest";
import type { ServiceHandler } from "../../src/contracts";
import { createEdgeServer, type EdgeServer, type EdgeServices } from "../../src/edge/server";

let edge: EdgeServer | undefined;
afterEach(async () => {
  await edge?.close();
  edge = undefined;
});

/** A service that answers with its own name, so the test sees where a request went. */
const named =
  (name: string): ServiceHandler =>
  async (req, res, url) => {
    req.resume();
    const text = JSON.stringify({ service: name, path: url.pathname });
    res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
    res.end(text);
  };

const allServices: EdgeServices = {
  s3: named("s3"),
  states: named("states"),
  a2iRuntime: named("a2iRuntime"),
  sagemaker: named("sagemaker"),
  rekognition: named("rekognition"),
  ssm: named("ssm"),
};

async function call(path: string, init: RequestInit = {}): Promise<Response> {
  if (!edge) throw new Error("edge not started");
  return fetch(`${edge.url}${path}`, init);
}

describe("edge server", () => {
  it.each([
    ["AWSStepFunctions.StartExecution", "states"],
    ["RekognitionService.DetectCustomLabels", "rekognition"],
    ["AmazonSSM.GetParameter", "ssm"],
    ["SageMaker.DescribeFlowDefinition", "sagemaker"],
  ])("routes X-Amz-Target %s to %s", async (target, service) => {
    // Arrange
    edge = await createEdgeServer({ port: 0, services: allServices });
    // Act
    const response = await call("/", { method: "POST", body: "{}", headers: { "x-amz-target": target } });
    // Assert
    expect(await response.json()).toMatchObject({ service });
  });

  it("routes /human-loops paths to the A2I runtime and everything else to S3", async () => {
    // Arrange
    edge = await createEdgeServer({ port: 0, services: allServices });
    // Act
    const loops = await (await call("/human-loops?FlowDefinitionArn=x")).json();
    const loop = await (await call("/human-loops/my-loop")).json();
    const bucket = await (await call("/human-loops-bucket/key")).json();
    const object = await (await call("/data/images_for_detection/a.png")).json();
    // Assert
    expect(loops).toMatchObject({ service: "a2iRuntime" });
    expect(loop).toMatchObject({ service: "a2iRuntime", path: "/human-loops/my-loop" });
    expect(bucket).toMatchObject({ service: "s3" });
    expect(object).toMatchObject({ service: "s3" });
  });

  it("answers an unknown target with UnknownOperationException in the JSON protocol's shape", async () => {
    // Arrange
    edge = await createEdgeServer({ port: 0, services: allServices });
    // Act
    const response = await call("/", {
      method: "POST",
      body: "{}",
      headers: { "x-amz-target": "DynamoDB_20120810.GetItem", "content-type": "application/x-amz-json-1.0" },
    });
    // Assert
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({
      __type: expect.stringMatching(/#UnknownOperationException$/),
    });
  });

  it("names the missing service when the edge was started with a subset", async () => {
    // Arrange
    edge = await createEdgeServer({ port: 0, services: { ssm: allServices.ssm } });
    // Act
    const states = await call("/", {
      method: "POST",
      body: "{}",
      headers: { "x-amz-target": "AWSStepFunctions.ListExecutions" },
    });
    const a2i = await call("/human-loops/x");
    const s3 = await call("/bucket/key");
    // Assert
    expect(states.status).toBe(503);
    expect(((await states.json()) as { message: string }).message).toContain("states");
    expect(a2i.headers.get("x-amzn-errortype")).toBe("ServiceUnavailable");
    expect(((await a2i.json()) as { Message: string }).Message).toContain("a2iRuntime");
    expect(s3.status).toBe(503);
    expect(await s3.text()).toContain("<Code>ServiceUnavailable</Code>");
  });

  it("answers a crashing service with a generic error that leaks nothing", async () => {
    // Arrange
    const crash: ServiceHandler = async () => {
      throw new Error("secret stack detail at /home/user/.aws/credentials");
    };
    edge = await createEdgeServer({ port: 0, services: { ...allServices, states: crash, s3: crash } });
    const logged = vi.spyOn(console, "error").mockImplementation(() => {});
    // Act
    const json = await call("/", {
      method: "POST",
      body: "{}",
      headers: { "x-amz-target": "AWSStepFunctions.X" },
    });
    const xml = await call("/bucket/key");
    const jsonText = await json.text();
    const xmlText = await xml.text();
    // Assert
    expect(json.status).toBe(500);
    expect(jsonText).toContain("InternalServerError");
    expect(xml.status).toBe(500);
    expect(jsonText + xmlText).not.toContain("secret");
    expect(jsonText + xmlText).not.toContain("credentials");
    expect(xmlText).toContain("<Code>InternalError</Code>");
    expect(logged).toHaveBeenCalledTimes(2);
    logged.mockRestore();
  });

  it("reports health and which services are running", async () => {
    // Arrange
    edge = await createEdgeServer({ port: 0, services: { s3: allServices.s3, ssm: allServices.ssm } });
    // Act
    const response = await call("/_secondlook/health");
    // Assert
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      status: "ok",
      services: {
        s3: true,
        states: false,
        a2iRuntime: false,
        sagemaker: false,
        rekognition: false,
        ssm: true,
        cloudformation: false,
      },
    });
  });

  it("listens on 127.0.0.1 on the port the OS picked", async () => {
    // Arrange
    edge = await createEdgeServer({ port: 0, services: allServices });
    // Act
    const address = edge.server.address();
    // Assert
    expect(address).toMatchObject({ address: "127.0.0.1", port: edge.port });
    expect(edge.port).toBeGreaterThan(0);
    expect(edge.url).toBe(`http://127.0.0.1:${edge.port}`);
  });
});
