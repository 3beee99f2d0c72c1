/**
 * The events that start work: S3 "Object Created" through EventBridge (aws-contracts.md §8) and
 * "SageMaker A2I HumanLoop Status Change" (§3), plus the image reference the workflow carries.
 */
import { z } from "zod";
import { InvalidEventError, InvalidInputError } from "./errors";
import { parseWith } from "./validation";

/** A bucket and key; the whole workflow refers to objects this way. */
export const ObjectRefSchema = z.object({ bucket: z.string().min(1), key: z.string().min(1) });
export type ObjectRef = z.infer<typeof ObjectRefSchema>;

/** The image under review, as carried through the state machine. */
export const ImageSchema = z.object({
  bucket: z.string().min(3),
  key: z.string().min(1).max(1024),
  uri: z.string().startsWith("s3://"),
  /** The uploaded object's ETag, when the event had one: it makes human sampling per content. */
  etag: z.string().optional(),
});
export type Image = z.infer<typeof ImageSchema>;

const S3_URI = /^s3:\/\/([^/]+)\/(.+)$/s;

/** Parses `s3://bucket/key` (the key verbatim, not URL-decoded). */
function parseUri(uri: string): ObjectRef {
  const match = S3_URI.exec(uri);
  if (!match?.[1] || !match[2])
    throw new InvalidInputError(`Not an s3:// object URI: ${JSON.stringify(uri)}`);
  return { bucket: match[1], key: match[2] };
}

/** Formats `s3://bucket/key`. */
function formatUri(ref: ObjectRef): string {
  return `s3://${ref.bucket}/${ref.key}`;
}

export const S3Uri = { parse: parseUri, format: formatUri };

export const S3ObjectCreatedEventSchema = z.looseObject({
  source: z.literal("aws.s3"),
  "detail-type": z.literal("Object Created"),
  detail: z.looseObject({
    bucket: z.looseObject({ name: z.string().min(3) }),
    object: z.looseObject({
      key: z.string().min(1),
      size: z.number().int().min(0).optional(),
      etag: z.string().optional(),
      "version-id": z.string().optional(),
    }),
  }),
});
export type S3ObjectCreatedEvent = z.infer<typeof S3ObjectCreatedEventSchema>;

/**
 * Decodes an event key. Decision (aws-contracts.md §8 leaves it open): the key is URL-encoded as in
 * classic S3 notifications, `+` for space and `%XX` for the rest, and is decoded exactly once here.
 */
function decodeKey(encoded: string): string {
  try {
    return decodeURIComponent(encoded.replace(/\+/g, " "));
  } catch {
    throw new InvalidEventError(`Object key is not validly URL-encoded: ${JSON.stringify(encoded)}`);
  }
}

/**
 * One manifest line as review-batch hands it to review-image: the image by its `s3://` URI, as
 * Ground Truth manifests name it (ASL has no intrinsic to cut a URI into bucket and key).
 */
export const ManifestItemEventSchema = z.looseObject({
  source: z.literal("secondlook.review-batch"),
  "detail-type": z.literal("Manifest Item"),
  detail: z.looseObject({ "source-ref": z.string().min(1) }),
});

/** The image an "Object Created" event (or a review-batch "Manifest Item") is about. */
function fromEvent(event: unknown): Image {
  if ((event as { "detail-type"?: unknown } | null)?.["detail-type"] === "Manifest Item") {
    const item = parseWith(
      ManifestItemEventSchema,
      event,
      InvalidEventError,
      "Not a review-batch Manifest Item",
    );
    // The URI is taken verbatim: manifests hold keys as they are, not URL-encoded.
    const match = S3_URI.exec(item.detail["source-ref"]);
    if (!match?.[1] || !match[2]) {
      throw new InvalidEventError(
        `source-ref is not an s3:// object URI: ${JSON.stringify(item.detail["source-ref"])}`,
      );
    }
    return { bucket: match[1], key: match[2], uri: formatUri({ bucket: match[1], key: match[2] }) };
  }
  const parsed = parseWith(
    S3ObjectCreatedEventSchema,
    event,
    InvalidEventError,
    "Not an S3 Object Created event",
  );
  const bucket = parsed.detail.bucket.name;
  const key = decodeKey(parsed.detail.object.key);
  const etag = parsed.detail.object.etag;
  return { bucket, key, uri: formatUri({ bucket, key }), ...(etag ? { etag } : {}) };
}

export const Image = { schema: ImageSchema, fromEvent };

export const HumanLoopStatusSchema = z.enum(["Completed", "Failed", "Stopped"]);
export type HumanLoopStatus = z.infer<typeof HumanLoopStatusSchema>;

/** The A2I status-change event; `detail` is camelCase unlike the PascalCase API. */
export const HumanLoopStatusEventSchema = z.looseObject({
  source: z.literal("aws.sagemaker"),
  "detail-type": z.literal("SageMaker A2I HumanLoop Status Change"),
  detail: z.looseObject({
    humanLoopName: z.string().min(1),
    humanLoopArn: z.string().min(1),
    flowDefinitionArn: z.string().min(1),
    humanLoopStatus: HumanLoopStatusSchema,
    creationTime: z.string().optional(),
    failureCode: z.string().nullish(),
    failureReason: z.string().nullish(),
    humanLoopOutput: z.looseObject({ outputS3Uri: z.string().startsWith("s3://") }),
  }),
});
export type HumanLoopStatusEvent = z.infer<typeof HumanLoopStatusEventSchema>;

/** Validates an A2I status-change event (only Completed, Failed and Stopped are ever emitted). */
function parseHumanLoopStatusEvent(event: unknown): HumanLoopStatusEvent {
  return parseWith(
    HumanLoopStatusEventSchema,
    event,
    InvalidEventError,
    "Not an A2I HumanLoop Status Change event",
  );
}

export const HumanLoopEvent = { schema: HumanLoopStatusEventSchema, parse: parseHumanLoopStatusEvent };
