/** Helpers shared by the reliability suites: a reviewer, claiming and answering, history reading. */
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import type { LocalCloud } from "../../src/cloud";
import { eventually } from "../e2e/support";
import { Browserish } from "../portal/fakes";

/** Creates a reviewer account and a signed-in HTTP client for it. */
export async function signedInReviewer(cloud: LocalCloud, username: string): Promise<Browserish> {
  const { password } = await cloud.services.portal.accounts.add(username);
  const reviewer = new Browserish(cloud.webUrl);
  await reviewer.signInFresh(username, password);
  return reviewer;
}

/** "Start working" until a task is offered; resolves to its path. */
export async function claimTask(reviewer: Browserish): Promise<string> {
  return eventually("a task in the portal", async () => {
    const csrf = await reviewer.csrfFrom("/");
    const response = await reviewer.postForm("/work", { _csrf: csrf });
    const location = response.headers.get("location") ?? "";
    return location.startsWith("/tasks/") ? location : undefined;
  });
}

/** Submits an answer on a task page, as the crowd-form does. */
export async function answer(reviewer: Browserish, taskPath: string, label: string) {
  const csrf = await reviewer.csrfFrom(taskPath);
  return reviewer.postJson(`${taskPath}/submit`, { category: { label } }, { "x-csrf-token": csrf });
}

/** Every recorded history event of an execution, oldest first. */
export async function historyOf(cloud: LocalCloud, executionArn: string) {
  const events: Awaited<ReturnType<LocalCloud["services"]["states"]["getExecutionHistory"]>>["events"] = [];
  let nextToken: string | undefined;
  do {
    const page = await cloud.services.states.getExecutionHistory({
      executionArn,
      nextToken,
      maxResults: 1000,
    });
    events.push(...page.events);
    nextToken = page.nextToken;
  } while (nextToken);
  return events;
}

/** Event deliveries that failed for good (the outbox gives up on them). */
export async function deadLetters(cloud: LocalCloud): Promise<string[]> {
  return readdir(join(cloud.dataDir, "events", "dead-letter")).catch(() => []);
}
