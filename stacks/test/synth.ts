/** Synthesizes the whole app once per test file, as `sst deploy` would, without AWS or bundling. */
import { readFileSync } from "node:fs";
import path from "node:path";
import { Template } from "aws-cdk-lib/assertions";
import { App, getStack } from "sst/constructs";
import { initProject } from "sst/project.js";
import config from "../../sst.config";
import { WORKTEAM_ARN_ENV } from "../human-review";
import { Review } from "../Review";
import { Storage } from "../Storage";
import { REPO_ROOT } from "../shared";
import { Training } from "../Training";

export const STAGE = "test";
export const APP_NAME = "secondlook";

export interface Synthesized {
  storage: Template;
  training: Template;
  review: Template;
  reviewStack: ReturnType<typeof getStack>;
  trainingStack: ReturnType<typeof getStack>;
}

/** Builds Storage → Training → Review; `workteamArn` plays the operator's SECONDLOOK_WORKTEAM_ARN. */
export async function synthesize(options: { workteamArn?: string } = {}): Promise<Synthesized> {
  await initProject({ stage: STAGE });
  const previous = process.env[WORKTEAM_ARN_ENV];
  if (options.workteamArn === undefined) delete process.env[WORKTEAM_ARN_ENV];
  else process.env[WORKTEAM_ARN_ENV] = options.workteamArn;
  try {
    const app = new App({ mode: "deploy", stage: STAGE, region: "us-east-1", name: APP_NAME });
    // The real sst.config.ts, so its default function props are part of what the tests check.
    await config.stacks(app);
    return {
      storage: Template.fromStack(getStack(Storage)),
      training: Template.fromStack(getStack(Training)),
      review: Template.fromStack(getStack(Review)),
      reviewStack: getStack(Review),
      trainingStack: getStack(Training),
    };
  } finally {
    if (previous === undefined) delete process.env[WORKTEAM_ARN_ENV];
    else process.env[WORKTEAM_ARN_ENV] = previous;
  }
}

/** `${Name}` placeholders of a workflow file, in order of first use. */
export function placeholdersOf(file: string): string[] {
  const text = readFileSync(path.join(REPO_ROOT, "statemachines", file), "utf8");
  return [...new Set([...text.matchAll(/\$\{([^}]+)\}/g)].map((match) => match[1] as string))];
}

export const readRepoFile = (file: string) => readFileSync(path.join(REPO_ROOT, file), "utf8");

type Resource = { Type: string; Properties: Record<string, unknown>; [key: string]: unknown };

/** The one resource of a type whose properties include the given values; fails loudly otherwise. */
export function onlyResource(template: Template, type: string, props: Record<string, unknown> = {}) {
  const found = Object.entries(template.findResources(type, { Properties: props })) as [string, Resource][];
  if (found.length !== 1)
    throw new Error(`expected one ${type} matching ${JSON.stringify(props)}, found ${found.length}`);
  return found[0] as [string, Resource];
}

export interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: unknown;
  Principal?: unknown;
}

/** Every statement of every identity policy in a template, with the logical id of its policy. */
export function policyStatements(
  template: Template,
): { policy: string; roles: unknown; statement: Statement }[] {
  const policies = template.findResources("AWS::IAM::Policy") as Record<string, Resource>;
  return Object.entries(policies).flatMap(([policy, resource]) => {
    const properties = resource.Properties as { PolicyDocument: { Statement: Statement[] }; Roles: unknown };
    return properties.PolicyDocument.Statement.map((statement) => ({
      policy,
      roles: properties.Roles,
      statement,
    }));
  });
}

export const actionsOf = (statement: Statement) =>
  Array.isArray(statement.Action) ? statement.Action : [statement.Action];

export const resourcesOf = (statement: Statement): unknown[] =>
  Array.isArray(statement.Resource) ? statement.Resource : [statement.Resource];

/** The statements of the default policy attached to one role. */
export function statementsOfRole(template: Template, roleLogicalId: string): Statement[] {
  return policyStatements(template)
    .filter(({ roles }) => JSON.stringify(roles) === JSON.stringify([{ Ref: roleLogicalId }]))
    .map(({ statement }) => statement);
}
