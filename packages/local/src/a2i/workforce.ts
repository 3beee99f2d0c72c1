/**
 * The contract between the local A2I (which owns human loops) and the reviewer portal (which owns
 * reviewers, sign-in and pages). The portal only ever sees tasks through a TaskQueue, so a reviewer
 * can never reach a loop the queue did not offer them.
 */

/** A signed-in reviewer, as the portal knows them and as A2I records them in output.json. */
export interface Worker {
  /** 16 lowercase hex characters, stable per reviewer (A2I's `workerId`). */
  id: string;
  /** UUID, stable per reviewer (`workerMetadata.identityData.sub`). */
  sub: string;
  username: string;
  /** `workerMetadata.identityData.identityProviderType`. */
  identityProviderType: "Cognito" | "Oidc";
  /** `workerMetadata.identityData.issuer`: the portal's own URL locally. */
  issuer: string;
}

/** One human loop offered to one worker. */
export interface OfferedTask {
  humanLoopName: string;
  flowDefinitionName: string;
  title: string;
  description: string;
  keywords: string[];
  /** The worker task template (Liquid source) of the flow definition's human task UI. */
  template: string;
  /** The parsed InputContent: `task.input` in the template. */
  input: unknown;
  createdAt: Date;
  /** When this worker accepted (claimed) the task. */
  acceptedAt: Date;
  /** The hold ends here (acceptedAt + TaskTimeLimitInSeconds); a later submit is refused. */
  heldUntil: Date;
}

/** Why a task operation was refused; the portal shows `message` to the reviewer. */
export class TaskUnavailableError extends Error {
  constructor(
    readonly reason: "not-held" | "expired" | "closed" | "already-answered",
    message: string,
  ) {
    super(message);
    this.name = "TaskUnavailableError";
  }
}

export interface TaskQueue {
  /** How many tasks this worker could start now (not held by others, not answered by them). */
  countAvailable(worker: Worker): Promise<number>;
  /** Claims the oldest available task for this worker, or returns undefined when none is left. */
  claimNext(worker: Worker): Promise<OfferedTask | undefined>;
  /** The task this worker holds under that loop name, or undefined (never another worker's). */
  getHeld(worker: Worker, humanLoopName: string): Promise<OfferedTask | undefined>;
  /** Gives the task back to the queue (the reviewer skipped it). */
  release(worker: Worker, humanLoopName: string): Promise<void>;
  /**
   * Records the worker's answer (the crowd-form's answerContent). Throws TaskUnavailableError when the
   * worker does not hold the task, the hold ran out, the loop closed, or they answered it already.
   */
  submit(worker: Worker, humanLoopName: string, answerContent: Record<string, unknown>): Promise<void>;
}
