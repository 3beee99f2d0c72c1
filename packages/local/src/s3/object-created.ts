/** S3's EventBridge "Object Created" event (aws-contracts §8), as the local S3 publishes it. */
import { type BusEvent, type Clock, LOCAL_ACCOUNT, LOCAL_REGION } from "../contracts";
import { encodeEventKey } from "./keys";

export type ObjectCreatedReason = "PutObject" | "CopyObject" | "CompleteMultipartUpload";

export interface CreatedObject {
  bucket: string;
  key: string;
  size: number;
  /** Hex MD5 (or multipart form), without quotes as the event carries it. */
  etag: string;
  reason: ObjectCreatedReason;
  requestId: string;
  /** The caller's address; in-process writes report the loopback address. */
  sourceIp?: string;
}

/** Returns a builder of Object Created events whose sequencers increase within this process. */
export function objectCreatedEvents(clock: Clock): (object: CreatedObject) => BusEvent {
  let counter = 0;
  return (object) => {
    const now = clock.now();
    counter = (counter + 1) % 0x10000;
    // Sequencers only order events for the same key; time plus a counter keeps them increasing.
    const sequencer = (BigInt(now.getTime()) * 0x10000n + BigInt(counter))
      .toString(16)
      .toUpperCase()
      .padStart(16, "0");
    return {
      version: "0",
      id: crypto.randomUUID(),
      "detail-type": "Object Created",
      source: "aws.s3",
      account: LOCAL_ACCOUNT,
      time: now.toISOString().replace(/\.\d{3}Z$/, "Z"),
      region: LOCAL_REGION,
      resources: [`arn:aws:s3:::${object.bucket}`],
      detail: {
        version: "0",
        bucket: { name: object.bucket },
        object: { key: encodeEventKey(object.key), size: object.size, etag: object.etag, sequencer },
        "request-id": object.requestId,
        requester: LOCAL_ACCOUNT,
        "source-ip-address": (object.sourceIp ?? "127.0.0.1").replace(/^::ffff:/, ""),
        reason: object.reason,
      },
    };
  };
}
