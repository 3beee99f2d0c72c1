/**
 * The local SSM Parameter Store (awsJson1_1, `X-Amz-Target: AmazonSSM.<Op>`): the operations the
 * settings code and the AWS CLI use, persisted as one JSON document under `<dataDir>/ssm/`
 * (rewritten atomically, one write at a time).
 */
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type Clock, LOCAL_ACCOUNT, LOCAL_REGION, type ServiceHandler, systemClock } from "../contracts";
import { readJson, ServiceError, sendAwsJsonError, sendJson, toServiceError } from "../edge/protocol";

const CONTENT_TYPE = "application/x-amz-json-1.1";
const NAMESPACE = "com.amazonaws.ssm";
const TYPES = ["String", "StringList", "SecureString"] as const;
type ParameterType = (typeof TYPES)[number];

/** One stored version of a parameter. */
interface Version {
  value: string;
  type: ParameterType;
  version: number;
  /** Epoch milliseconds. */
  modified: number;
  description?: string;
  tier: "Standard" | "Advanced";
  dataType: string;
  allowedPattern?: string;
}

interface Document {
  parameters: Record<string, Version[]>;
}

export interface LocalSsmOptions {
  dataDir: string;
  clock?: Clock;
}

export interface LocalSsm {
  handler: ServiceHandler;
  /** Creates or overwrites a String parameter (the composition root seeds settings with it). */
  put(name: string, value: string): Promise<void>;
  /** The current value, or undefined. */
  get(name: string): Promise<string | undefined>;
}

const MAX_VERSIONS = 100;

function validationError(message: string): ServiceError {
  return new ServiceError("ValidationException", message);
}

/** SSM's parameter name rules (the error texts follow the service's). */
export function validateParameterName(name: unknown): string {
  if (typeof name !== "string" || name.length === 0 || name.length > 2048) {
    throw validationError("Parameter name must be 1 to 2048 characters long");
  }
  if (!/^[a-zA-Z0-9_.\-/]+$/.test(name)) {
    throw validationError(
      'Parameter name: can\'t be prefixed with "aws" or "ssm" (case-insensitive). It must use only letters, numbers, or the following symbols: . (period), - (hyphen), _ (underscore), and /.',
    );
  }
  const bare = name.startsWith("/") ? name.slice(1) : name;
  if (/^(aws|ssm)/i.test(bare)) {
    throw validationError('Parameter name: can\'t be prefixed with "aws" or "ssm" (case-insensitive).');
  }
  if (name.includes("/") && !name.startsWith("/")) {
    throw validationError(
      "Parameter name must be a fully qualified name (begin with /) when it contains a hierarchy",
    );
  }
  if (name.endsWith("/") || name.includes("//"))
    throw validationError("Parameter name has an empty hierarchy level");
  if (name.split("/").length - 1 > 15) {
    throw new ServiceError(
      "HierarchyLevelLimitExceededException",
      "A hierarchy can have a maximum of 15 levels",
    );
  }
  return name;
}

function notFound(name: string): ServiceError {
  return new ServiceError("ParameterNotFound", `Parameter ${name} not found.`);
}

function arn(name: string): string {
  return `arn:aws:ssm:${LOCAL_REGION}:${LOCAL_ACCOUNT}:parameter/${name.replace(/^\//, "")}`;
}

function optionalInt(
  body: Record<string, unknown>,
  field: string,
  min: number,
  max: number,
): number | undefined {
  const value = body[field];
  if (value === undefined) return undefined;
  if (!Number.isInteger(value) || (value as number) < min || (value as number) > max) {
    throw validationError(
      `1 validation error detected: Value at '${field}' failed to satisfy constraint: Member must have value between ${min} and ${max}`,
    );
  }
  return value as number;
}

function optionalString(body: Record<string, unknown>, field: string): string | undefined {
  const value = body[field];
  if (value === undefined) return undefined;
  if (typeof value !== "string")
    throw new ServiceError("SerializationException", `${field} must be a string`);
  return value;
}

function nextTokenOffset(body: Record<string, unknown>): number {
  const token = optionalString(body, "NextToken");
  if (token === undefined) return 0;
  const offset = Number(Buffer.from(token, "base64url").toString("utf8"));
  if (!Number.isSafeInteger(offset) || offset < 0) throw validationError("The NextToken is not valid");
  return offset;
}

function page<T>(items: T[], offset: number, size: number): { items: T[]; NextToken?: string } {
  const slice = items.slice(offset, offset + size);
  const next =
    offset + size < items.length ? Buffer.from(String(offset + size)).toString("base64url") : undefined;
  return { items: slice, ...(next ? { NextToken: next } : {}) };
}

/** Creates the local SSM over `<dataDir>/ssm/parameters.json`. */
export async function createLocalSsm(options: LocalSsmOptions): Promise<LocalSsm> {
  const clock = options.clock ?? systemClock;
  const dir = join(options.dataDir, "ssm");
  const file = join(dir, "parameters.json");
  await mkdir(dir, { recursive: true });
  let document: Document;
  try {
    document = JSON.parse(await readFile(file, "utf8")) as Document;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    document = { parameters: {} };
  }
  let writing: Promise<void> = Promise.resolve();

  /** Serialises mutations so each sees the previous one and the file is never written twice at once. */
  function mutate<T>(change: () => T): Promise<T> {
    const run = writing.then(async () => {
      const result = change();
      const temp = `${file}.${crypto.randomUUID()}.tmp`;
      await writeFile(temp, JSON.stringify(document));
      await rename(temp, file);
      return result;
    });
    writing = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  function current(name: string): Version | undefined {
    return document.parameters[name]?.at(-1);
  }

  /** Resolves `name`, `name:<version>` selectors as GetParameter(s) accept them. */
  function select(selector: string): { name: string; version: Version; selector?: string } | undefined {
    const colon = selector.lastIndexOf(":");
    if (colon > 0) {
      const name = selector.slice(0, colon);
      const wanted = selector.slice(colon + 1);
      if (!/^\d+$/.test(wanted)) {
        throw new ServiceError(
          "ParameterVersionLabelNotFound",
          `Labels are not supported locally: ${selector}`,
        );
      }
      const version = document.parameters[name]?.find((entry) => entry.version === Number(wanted));
      if (!document.parameters[name]) return undefined;
      if (!version)
        throw new ServiceError("ParameterVersionNotFound", `Version ${wanted} of ${name} not found.`);
      return { name, version, selector: selector.slice(colon) };
    }
    const version = current(selector);
    return version && { name: selector, version };
  }

  function shape(name: string, version: Version, withDecryption: boolean, selector?: string) {
    let value = version.value;
    // Without decryption AWS hands back the KMS ciphertext; an opaque base64 form keeps code that
    // forgets WithDecryption failing locally too.
    if (version.type === "SecureString" && !withDecryption)
      value = Buffer.from(`local-kms:${value}`).toString("base64");
    return {
      Name: name,
      Type: version.type,
      Value: value,
      Version: version.version,
      LastModifiedDate: version.modified / 1000,
      ARN: arn(name),
      DataType: version.dataType,
      ...(selector ? { Selector: selector } : {}),
    };
  }

  function byPath(path: string, recursive: boolean): string[] {
    const base = path.endsWith("/") ? path : `${path}/`;
    return Object.keys(document.parameters)
      .filter((name) => {
        if (!name.startsWith(base)) return false;
        return recursive || !name.slice(base.length).includes("/");
      })
      .sort();
  }

  const operations: Record<string, (body: Record<string, unknown>) => Promise<unknown> | unknown> = {
    GetParameter(body) {
      const name = optionalString(body, "Name");
      if (!name) throw validationError("Name is required");
      const found = select(name);
      if (!found) throw notFound(name);
      return { Parameter: shape(found.name, found.version, body.WithDecryption === true, found.selector) };
    },
    GetParameters(body) {
      const names = body.Names;
      if (
        !Array.isArray(names) ||
        names.length < 1 ||
        names.length > 10 ||
        names.some((n) => typeof n !== "string")
      ) {
        throw validationError("Names must list 1 to 10 parameter names");
      }
      const parameters = [];
      const invalid: string[] = [];
      for (const name of new Set(names as string[])) {
        const found = select(name);
        if (found)
          parameters.push(shape(found.name, found.version, body.WithDecryption === true, found.selector));
        else invalid.push(name);
      }
      return { Parameters: parameters, InvalidParameters: invalid };
    },
    GetParametersByPath(body) {
      const path = optionalString(body, "Path");
      if (!path?.startsWith("/")) throw validationError("Path must be a hierarchy that begins with /");
      if (body.ParameterFilters !== undefined) {
        throw validationError("ParameterFilters on GetParametersByPath are not supported by the local SSM");
      }
      const size = optionalInt(body, "MaxResults", 1, 10) ?? 10;
      const names = byPath(path, body.Recursive === true);
      const { items, NextToken } = page(names, nextTokenOffset(body), size);
      return {
        Parameters: items.map((name) => shape(name, current(name) as Version, body.WithDecryption === true)),
        ...(NextToken ? { NextToken } : {}),
      };
    },
    PutParameter(body) {
      const name = validateParameterName(body.Name);
      const value = body.Value;
      if (typeof value !== "string" || value.length === 0)
        throw validationError("Value must be a non-empty string");
      const tierText = optionalString(body, "Tier") ?? "Standard";
      if (!["Standard", "Advanced", "Intelligent-Tiering"].includes(tierText)) {
        throw validationError(`Tier ${tierText} is not one of Standard, Advanced, Intelligent-Tiering`);
      }
      const limit = tierText === "Standard" ? 4096 : 8192;
      const tier =
        tierText === "Standard" || (tierText === "Intelligent-Tiering" && value.length <= 4096)
          ? "Standard"
          : "Advanced";
      if (value.length > limit) {
        throw validationError(
          `Parameter value ... exceeds the maximum length of ${limit} characters for the ${tierText} tier`,
        );
      }
      const existing = current(name);
      const typeText = optionalString(body, "Type") ?? existing?.type;
      if (typeText === undefined)
        throw validationError("A parameter type is required when you create a parameter.");
      if (!TYPES.includes(typeText as ParameterType)) {
        throw validationError(`Type ${typeText} is not one of String, StringList, SecureString`);
      }
      if (existing && body.Overwrite !== true) {
        throw new ServiceError(
          "ParameterAlreadyExists",
          "The parameter already exists. To overwrite this value, set the overwrite option in the request to true.",
        );
      }
      const allowedPattern = optionalString(body, "AllowedPattern") ?? existing?.allowedPattern;
      if (allowedPattern !== undefined) {
        let pattern: RegExp;
        try {
          pattern = new RegExp(allowedPattern);
        } catch {
          throw validationError("AllowedPattern is not a valid regular expression");
        }
        if (!pattern.test(value)) {
          throw new ServiceError(
            "ParameterPatternMismatchException",
            `Parameter value, cannot be validated against allowedPattern: ${allowedPattern}`,
          );
        }
      }
      const dataType = optionalString(body, "DataType") ?? existing?.dataType ?? "text";
      if (!["text", "aws:ec2:image", "aws:ssm:integration"].includes(dataType)) {
        throw validationError(`DataType ${dataType} is not supported`);
      }
      return mutate(() => {
        const versions = document.parameters[name] ?? [];
        const next: Version = {
          value,
          type: typeText as ParameterType,
          version: (versions.at(-1)?.version ?? 0) + 1,
          modified: clock.now().getTime(),
          description: optionalString(body, "Description") ?? existing?.description,
          tier,
          dataType,
          ...(allowedPattern !== undefined ? { allowedPattern } : {}),
        };
        // The check ran before queueing; a concurrent create may have landed in between.
        if (versions.length > 0 && body.Overwrite !== true) {
          throw new ServiceError(
            "ParameterAlreadyExists",
            "The parameter already exists. To overwrite this value, set the overwrite option in the request to true.",
          );
        }
        document.parameters[name] = [...versions, next].slice(-MAX_VERSIONS);
        return { Version: next.version, Tier: next.tier };
      });
    },
    DeleteParameter(body) {
      const name = optionalString(body, "Name");
      if (!name) throw validationError("Name is required");
      if (!document.parameters[name]) throw notFound(name);
      return mutate(() => {
        if (!document.parameters[name]) throw notFound(name);
        delete document.parameters[name];
        return {};
      });
    },
    DescribeParameters(body) {
      const size = optionalInt(body, "MaxResults", 1, 50) ?? 50;
      const filters = Array.isArray(body.ParameterFilters)
        ? (body.ParameterFilters as Record<string, unknown>[])
        : [];
      if (body.Filters !== undefined) throw validationError("Filters is deprecated; use ParameterFilters");
      let names = Object.keys(document.parameters).sort();
      for (const filter of filters) {
        const key = String(filter?.Key);
        const option = String(filter?.Option ?? (key === "Path" ? "OneLevel" : "Equals"));
        const values = Array.isArray(filter?.Values) ? (filter.Values as unknown[]).map(String) : [];
        if (key === "Name" && (option === "Equals" || option === "BeginsWith" || option === "Contains")) {
          names = names.filter((name) =>
            values.some((value) =>
              option === "Equals"
                ? name === value
                : option === "BeginsWith"
                  ? name.startsWith(value)
                  : name.includes(value),
            ),
          );
        } else if (key === "Path" && (option === "OneLevel" || option === "Recursive")) {
          const allowed = new Set(values.flatMap((path) => byPath(path, option === "Recursive")));
          names = names.filter((name) => allowed.has(name));
        } else if (key === "Type" && option === "Equals") {
          names = names.filter((name) => values.includes(current(name)?.type ?? ""));
        } else {
          throw validationError(
            `The local SSM supports ParameterFilters Name (Equals/BeginsWith/Contains), Path and Type (Equals); got ${key} ${option}`,
          );
        }
      }
      const { items, NextToken } = page(names, nextTokenOffset(body), size);
      return {
        Parameters: items.map((name) => {
          const version = current(name) as Version;
          return {
            Name: name,
            ARN: arn(name),
            Type: version.type,
            Version: version.version,
            LastModifiedDate: version.modified / 1000,
            LastModifiedUser: `arn:aws:iam::${LOCAL_ACCOUNT}:root`,
            Tier: version.tier,
            DataType: version.dataType,
            Policies: [],
            ...(version.description ? { Description: version.description } : {}),
            ...(version.allowedPattern ? { AllowedPattern: version.allowedPattern } : {}),
          };
        }),
        ...(NextToken ? { NextToken } : {}),
      };
    },
  };

  const handler: ServiceHandler = async (req, res) => {
    try {
      const target = String(req.headers["x-amz-target"] ?? "");
      const operation = target.startsWith("AmazonSSM.")
        ? operations[target.slice("AmazonSSM.".length)]
        : undefined;
      if (!operation || !Object.hasOwn(operations, target.slice("AmazonSSM.".length))) {
        req.resume();
        throw new ServiceError(
          "UnknownOperationException",
          `The local SSM does not implement ${target || "(no X-Amz-Target)"}`,
        );
      }
      const result = await operation(await readJson(req));
      sendJson(res, 200, result, CONTENT_TYPE);
    } catch (error) {
      sendAwsJsonError(res, toServiceError(error), NAMESPACE, CONTENT_TYPE);
    }
  };

  return {
    handler,
    async put(name, value) {
      await operations.PutParameter?.({ Name: name, Value: value, Type: "String", Overwrite: true });
    },
    async get(name) {
      return current(name)?.value;
    },
  };
}
