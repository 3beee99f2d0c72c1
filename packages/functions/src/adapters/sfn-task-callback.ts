/** TaskCallback on Step Functions' SendTaskSuccess / SendTaskFailure. */

import type { Logger } from "@aws-lambda-powertools/logger";
import { SendTaskFailureCommand, SendTaskSuccessCommand, type SFNClient } from "@aws-sdk/client-sfn";
import type { TaskCallback } from "@secondlook/core";
import { awsErrorName } from "./errors";

/** Step Functions limits (aws-contracts.md §7.2). */
const MAX_ERROR_CHARS = 256;
const MAX_CAUSE_CHARS = 32_768;

/** A closed task answers TaskTimedOut, an unknown token InvalidToken: both mean "already handled". */
const CLOSED = ["TaskTimedOut", "InvalidToken"];

export type CallbackLog = Pick<Logger, "info">;

/** Creates a TaskCallback backed by the given Step Functions client. */
export function createSfnTaskCallback(client: SFNClient, log: CallbackLog): TaskCallback {
  const send = async (action: string, call: () => Promise<unknown>): Promise<boolean> => {
    try {
      await call();
      return true;
    } catch (error) {
      const name = awsErrorName(error);
      if (name && CLOSED.includes(name)) {
        // Status events arrive at least once; the first delivery already closed this task.
        log.info(`${action} ignored: the task is already closed`, { error: name });
        return false;
      }
      throw error;
    }
  };
  return {
    succeed: (taskToken, output) =>
      send("SendTaskSuccess", () =>
        client.send(new SendTaskSuccessCommand({ taskToken, output: JSON.stringify(output) })),
      ),
    fail: (taskToken, error, cause) =>
      send("SendTaskFailure", () =>
        client.send(
          new SendTaskFailureCommand({
            taskToken,
            error: error.slice(0, MAX_ERROR_CHARS),
            cause: cause.slice(0, MAX_CAUSE_CHARS),
          }),
        ),
      ),
  };
}
