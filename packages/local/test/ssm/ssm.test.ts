import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  DeleteParameterCommand,
  DescribeParametersCommand,
  GetParameterCommand,
  GetParametersByPathCommand,
  GetParametersCommand,
  PutParameterCommand,
  SSMClient,
  SSMServiceException,
} from "@aws-sdk/client-ssm";
import { settingsPath } from "@secondlook/core/blueprint";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createEdgeServer, type EdgeServer } from "../../src/edge/server";
import { createLocalSsm, type LocalSsm } from "../../src/ssm/ssm";

let root: string;
let ssm: LocalSsm;
let edge: EdgeServer;
let client: SSMClient;
const PATH = settingsPath("test");

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "secondlook-ssm-"));
  ssm = await createLocalSsm({ dataDir: root });
  edge = await createEdgeServer({ port: 0, services: { ssm: ssm.handler } });
  client = new SSMClient({
    endpoint: edge.url,
    region: "us-east-1",
    credentials: { accessKeyId: "test", secretAccessKey: "test" },
  });
});
afterEach(async () => {
  client.destroy();
  await edge.close();
  await rm(root, { recursive: true, force: true });
});

async function errorOf(promise: Promise<unknown>): Promise<SSMServiceException> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof SSMServiceException) return error;
    throw error;
  }
  throw new Error("expected the call to fail");
}

describe("local SSM Parameter Store", () => {
  it("puts a parameter, reads it back and increments its version on overwrite", async () => {
    // Arrange
    const name = `${PATH}min-confidence`;
    // Act
    const created = await client.send(new PutParameterCommand({ Name: name, Value: "70", Type: "String" }));
    const updated = await client.send(new PutParameterCommand({ Name: name, Value: "80", Overwrite: true }));
    const got = await client.send(new GetParameterCommand({ Name: name }));
    const first = await client.send(new GetParameterCommand({ Name: `${name}:1` }));
    // Assert
    expect(created).toMatchObject({ Version: 1, Tier: "Standard" });
    expect(updated.Version).toBe(2);
    expect(got.Parameter).toMatchObject({
      Name: name,
      Value: "80",
      Type: "String",
      Version: 2,
      DataType: "text",
      ARN: `arn:aws:ssm:us-east-1:000000000000:parameter${name}`,
    });
    expect(got.Parameter?.LastModifiedDate).toBeInstanceOf(Date);
    expect(first.Parameter?.Value).toBe("70");
  });

  it("refuses to overwrite without Overwrite and to read a missing parameter", async () => {
    // Arrange
    await client.send(new PutParameterCommand({ Name: "/a/b", Value: "1", Type: "String" }));
    // Act
    const exists = await errorOf(
      client.send(new PutParameterCommand({ Name: "/a/b", Value: "2", Type: "String" })),
    );
    const missing = await errorOf(client.send(new GetParameterCommand({ Name: "/a/missing" })));
    // Assert
    expect(exists.name).toBe("ParameterAlreadyExists");
    expect(missing.name).toBe("ParameterNotFound");
    expect((await client.send(new GetParameterCommand({ Name: "/a/b" }))).Parameter?.Value).toBe("1");
  });

  it.each([
    ["a name with spaces", { Name: "/bad name", Value: "v", Type: "String" as const }, "ValidationException"],
    [
      "an aws-prefixed name",
      { Name: "/aws/thing", Value: "v", Type: "String" as const },
      "ValidationException",
    ],
    [
      "a hierarchy without a leading slash",
      { Name: "a/b", Value: "v", Type: "String" as const },
      "ValidationException",
    ],
    [
      "a value over 4096 characters",
      { Name: "/big", Value: "x".repeat(4097), Type: "String" as const },
      "ValidationException",
    ],
    [
      "16 hierarchy levels",
      { Name: `/${"l/".repeat(15)}x`, Value: "v", Type: "String" as const },
      "HierarchyLevelLimitExceededException",
    ],
    ["a new parameter without a type", { Name: "/untyped", Value: "v" }, "ValidationException"],
  ])("refuses %s", async (_name, input, expected) => {
    // Arrange
    const command = new PutParameterCommand(input);
    // Act
    const error = await errorOf(client.send(command));
    // Assert
    expect(error.name).toBe(expected);
  });

  it("reports unknown names of GetParameters in InvalidParameters", async () => {
    // Arrange
    await client.send(new PutParameterCommand({ Name: "/p/one", Value: "1", Type: "String" }));
    // Act
    const result = await client.send(new GetParametersCommand({ Names: ["/p/one", "/p/two"] }));
    // Assert
    expect(result.Parameters?.map((parameter) => parameter.Value)).toEqual(["1"]);
    expect(result.InvalidParameters).toEqual(["/p/two"]);
  });

  it("pages GetParametersByPath with MaxResults and NextToken, one level or recursive", async () => {
    // Arrange
    for (let i = 0; i < 13; i++) await ssm.put(`${PATH}setting-${String(i).padStart(2, "0")}`, String(i));
    await ssm.put(`${PATH}nested/deep`, "deep");
    await ssm.put("/secondlook/other/x", "elsewhere");
    // Act
    const names: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const page = await client.send(
        new GetParametersByPathCommand({ Path: PATH, Recursive: true, MaxResults: 5, NextToken: token }),
      );
      names.push(...(page.Parameters ?? []).map((parameter) => parameter.Name ?? ""));
      token = page.NextToken;
      pages += 1;
    } while (token);
    const oneLevel = await client.send(new GetParametersByPathCommand({ Path: PATH, MaxResults: 10 }));
    const tooMany = await errorOf(
      client.send(new GetParametersByPathCommand({ Path: PATH, MaxResults: 11 })),
    );
    // Assert
    expect(pages).toBe(3);
    expect(names).toHaveLength(14);
    expect(names).toContain(`${PATH}nested/deep`);
    expect(names).not.toContain("/secondlook/other/x");
    expect(oneLevel.Parameters?.map((parameter) => parameter.Name)).not.toContain(`${PATH}nested/deep`);
    expect(oneLevel.NextToken).toBeDefined();
    expect(tooMany.name).toBe("ValidationException");
  });

  it("hides SecureString values unless WithDecryption is set and keeps StringList as text", async () => {
    // Arrange
    await client.send(new PutParameterCommand({ Name: "/s/secret", Value: "hunter2", Type: "SecureString" }));
    await client.send(new PutParameterCommand({ Name: "/s/labels", Value: "cat,dog", Type: "StringList" }));
    // Act
    const hidden = await client.send(new GetParameterCommand({ Name: "/s/secret" }));
    const shown = await client.send(new GetParameterCommand({ Name: "/s/secret", WithDecryption: true }));
    const list = await client.send(new GetParameterCommand({ Name: "/s/labels" }));
    // Assert
    expect(hidden.Parameter?.Value).not.toBe("hunter2");
    expect(shown.Parameter?.Value).toBe("hunter2");
    expect(list.Parameter).toMatchObject({ Type: "StringList", Value: "cat,dog" });
  });

  it("deletes a parameter and describes the rest with filters", async () => {
    // Arrange
    await ssm.put("/d/keep", "1");
    await ssm.put("/d/drop", "2");
    await ssm.put("/e/other", "3");
    // Act
    await client.send(new DeleteParameterCommand({ Name: "/d/drop" }));
    const again = await errorOf(client.send(new DeleteParameterCommand({ Name: "/d/drop" })));
    const described = await client.send(
      new DescribeParametersCommand({
        ParameterFilters: [{ Key: "Name", Option: "BeginsWith", Values: ["/d/"] }],
      }),
    );
    // Assert
    expect(again.name).toBe("ParameterNotFound");
    expect(described.Parameters?.map((parameter) => parameter.Name)).toEqual(["/d/keep"]);
    expect(described.Parameters?.[0]).toMatchObject({ Type: "String", Version: 1, Tier: "Standard" });
  });

  it("lets exactly one of racing creates win and gives racing overwrites distinct versions", async () => {
    // Arrange
    const create = (i: number) =>
      client.send(new PutParameterCommand({ Name: "/race/p", Value: `v${i}`, Type: "String" }));
    // Act
    const creates = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => create(i)));
    const overwrites = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        client.send(new PutParameterCommand({ Name: "/race/p", Value: `w${i}`, Overwrite: true })),
      ),
    );
    // Assert
    expect(creates.filter((result) => result.status === "fulfilled")).toHaveLength(1);
    const refusals = creates.flatMap((result) =>
      result.status === "rejected" ? [result.reason as Error] : [],
    );
    expect(refusals.map((error) => error.name)).toEqual(Array(9).fill("ParameterAlreadyExists"));
    expect(overwrites.map((result) => result.Version).sort((a, b) => (a ?? 0) - (b ?? 0))).toEqual([
      2, 3, 4, 5, 6, 7, 8, 9, 10, 11,
    ]);
  });

  it("keeps parameters across a restart", async () => {
    // Arrange
    await client.send(new PutParameterCommand({ Name: "/persist/me", Value: "still here", Type: "String" }));
    // Act
    const reopened = await createLocalSsm({ dataDir: root });
    // Assert
    expect(await reopened.get("/persist/me")).toBe("still here");
  });

  it("answers malformed JSON with SerializationException and unknown operations with UnknownOperationException", async () => {
    // Arrange
    const post = (target: string, body: string) =>
      fetch(edge.url, {
        method: "POST",
        body,
        headers: { "x-amz-target": target, "content-type": "application/x-amz-json-1.1" },
      });
    // Act
    const malformed = await post("AmazonSSM.GetParameter", "{not json");
    const unknown = await post("AmazonSSM.SendCommand", "{}");
    // Assert
    expect(malformed.status).toBe(400);
    expect(((await malformed.json()) as { __type: string }).__type).toMatch(/SerializationException$/);
    expect(unknown.status).toBe(400);
    expect(((await unknown.json()) as { __type: string }).__type).toMatch(/UnknownOperationException$/);
  });
});
