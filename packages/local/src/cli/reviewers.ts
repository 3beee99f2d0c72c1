/**
 * `secondlook reviewers add|remove|reset|list`: manages portal accounts in the data folder. Works
 * whether or not the local cloud is running; a running portal picks the change up at once.
 */
import { resolve } from "node:path";
import { openAccountStore } from "../portal/accounts";

export type ReviewerAction = "add" | "remove" | "reset" | "list";

export interface ReviewerOptions {
  data: string;
  json: boolean;
  webPort: number;
}

/** Runs one reviewer action; returns the text (or JSON) a user or script reads. */
export async function runReviewers(
  action: ReviewerAction,
  username: string | undefined,
  options: ReviewerOptions,
) {
  const store = await openAccountStore(resolve(options.data), {
    issuer: () => `http://127.0.0.1:${options.webPort}`,
  });
  const need = () => {
    if (!username) throw new Error(`reviewers ${action} needs a username`);
    return username;
  };
  switch (action) {
    case "add": {
      const { password } = await store.add(need());
      return options.json
        ? JSON.stringify({ username, password })
        : `Added ${username}. Password (shown once; they choose their own at first sign-in): ${password}`;
    }
    case "reset": {
      const { password } = await store.resetPassword(need());
      return options.json
        ? JSON.stringify({ username, password })
        : `Reset ${username}. New password (shown once): ${password}`;
    }
    case "remove":
      await store.remove(need());
      return options.json ? JSON.stringify({ username, removed: true }) : `Removed ${username}.`;
    case "list": {
      const accounts = await store.list();
      if (options.json) return JSON.stringify(accounts);
      if (accounts.length === 0) return "No reviewers yet: secondlook reviewers add <name>";
      return accounts
        .map((a) => `${a.username.padEnd(24)} ${a.mustChangePassword ? "must change password" : "active"}`)
        .join("\n");
    }
  }
}
