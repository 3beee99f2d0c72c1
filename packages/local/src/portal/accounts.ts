/**
 * Reviewer accounts, kept in `<dataDir>/portal/accounts.json`. Passwords are stored only as scrypt
 * hashes with a per-user salt; a generated password is handed out once and must be replaced at the
 * first sign-in, as on A2I's private workforce portal.
 */
import { randomBytes, randomInt, randomUUID, scrypt as scryptCallback, timingSafeEqual } from "node:crypto";
import { mkdir, readFile, rename, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import type { Worker } from "../a2i/workforce";
import { type Clock, systemClock } from "../contracts";

export const MIN_PASSWORD_LENGTH = 12;
const GENERATED_PASSWORD_LENGTH = 20;
// No look-alike characters (0/O, 1/l/I), so a password read aloud or copied by hand survives.
const PASSWORD_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789";
const SCRYPT = { N: 16_384, r: 8, p: 1, keyLength: 32 } as const;

export class InvalidUsernameError extends Error {
  constructor(username: string) {
    super(
      `Invalid username ${JSON.stringify(username)}: use 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit`,
    );
    this.name = "InvalidUsernameError";
  }
}

export class AccountExistsError extends Error {
  constructor(username: string) {
    super(`A reviewer named ${JSON.stringify(username)} already exists`);
    this.name = "AccountExistsError";
  }
}

export class AccountNotFoundError extends Error {
  constructor(username: string) {
    super(`No reviewer named ${JSON.stringify(username)}`);
    this.name = "AccountNotFoundError";
  }
}

export class WeakPasswordError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "WeakPasswordError";
  }
}

/** The accounts file exists but is not ours to overwrite: refuse to start rather than lose reviewers. */
export class AccountsFileCorruptError extends Error {
  constructor(path: string, detail: string) {
    super(`The reviewer accounts file ${path} is not valid (${detail}); fix or move it before starting`);
    this.name = "AccountsFileCorruptError";
  }
}

const Username = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/);

const StoredAccount = z.object({
  username: z.string(),
  workerId: z.string().regex(/^[0-9a-f]{16}$/),
  sub: z.uuid(),
  salt: z.string(),
  hash: z.string(),
  mustChangePassword: z.boolean(),
  createdAt: z.string(),
});
type StoredAccount = z.infer<typeof StoredAccount>;

const AccountsFile = z.object({ version: z.literal(1), accounts: z.array(StoredAccount) });

/** What `list()` shows about a reviewer: never the hash or salt. */
export interface AccountSummary {
  username: string;
  workerId: string;
  sub: string;
  mustChangePassword: boolean;
  createdAt: string;
}

function scrypt(password: string, salt: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scryptCallback(
      password.normalize("NFKC"),
      salt,
      SCRYPT.keyLength,
      { N: SCRYPT.N, r: SCRYPT.r, p: SCRYPT.p },
      (error, key) => (error ? reject(error) : resolve(key)),
    );
  });
}

/** A crypto-random password of 20 characters from an unambiguous alphabet. */
export function generatePassword(): string {
  let out = "";
  for (let i = 0; i < GENERATED_PASSWORD_LENGTH; i++)
    out += PASSWORD_ALPHABET[randomInt(PASSWORD_ALPHABET.length)];
  return out;
}

/** Throws WeakPasswordError unless the password is long enough to stand alone. */
export function checkNewPassword(password: string): void {
  if (password.length < MIN_PASSWORD_LENGTH) {
    throw new WeakPasswordError(`Choose a password of at least ${MIN_PASSWORD_LENGTH} characters`);
  }
  if (password.length > 1024) throw new WeakPasswordError("Choose a password of at most 1024 characters");
}

function normalizeUsername(username: string): string {
  if (!Username.safeParse(username).success) throw new InvalidUsernameError(username);
  return username.toLowerCase();
}

export type AccountStore = Awaited<ReturnType<typeof openAccountStore>>;

/**
 * Opens (or creates) the accounts file under `<dataDir>/portal/`. Another process (the CLI adding
 * a reviewer while the local cloud runs) may change the file; `refresh()` picks that up.
 */
export async function openAccountStore(dataDir: string, options: { issuer: () => string; clock?: Clock }) {
  const clock = options.clock ?? systemClock;
  const dir = join(dataDir, "portal");
  const path = join(dir, "accounts.json");
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const accounts = new Map<string, StoredAccount>();
  let loadedVersion = "";

  const fileVersion = async (): Promise<string> => {
    try {
      const info = await stat(path);
      return `${info.ino}:${info.mtimeMs}:${info.size}`;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return "absent";
      throw error;
    }
  };

  const load = async () => {
    let raw: string;
    try {
      raw = await readFile(path, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") {
        accounts.clear();
        return;
      }
      throw error;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      throw new AccountsFileCorruptError(path, "not JSON");
    }
    const file = AccountsFile.safeParse(parsed);
    if (!file.success) throw new AccountsFileCorruptError(path, file.error.issues[0]?.message ?? "bad shape");
    accounts.clear();
    for (const account of file.data.accounts) accounts.set(account.username, account);
  };

  /** Re-reads the file when it changed on disk since we last read or wrote it. */
  const refreshNow = async () => {
    const version = await fileVersion();
    if (version === loadedVersion) return;
    await load();
    loadedVersion = version;
  };
  await refreshNow();

  // A re-read replaces the in-memory accounts, so it must never run between another operation's
  // change and its write: concurrent adds would otherwise lose accounts.
  let tail: Promise<unknown> = Promise.resolve();
  const exclusive = <T>(operation: () => Promise<T>): Promise<T> => {
    const run = tail.then(operation, operation);
    tail = run.catch(() => undefined);
    return run;
  };

  // Writes are serialized and atomic (temp file + rename) so a crash never leaves half a file.
  let writing: Promise<void> = Promise.resolve();
  const persist = () => {
    const body = JSON.stringify({ version: 1, accounts: [...accounts.values()] }, null, 2);
    writing = writing.then(async () => {
      const tmp = `${path}.${randomUUID()}.tmp`;
      await writeFile(tmp, body, { mode: 0o600 });
      await rename(tmp, path);
      loadedVersion = await fileVersion();
    });
    return writing;
  };
  // Verifying against this when the user does not exist keeps the response time the same.
  const decoy = { salt: randomBytes(16), hash: await scrypt(randomUUID(), randomBytes(16)) };

  const toWorker = (account: StoredAccount): Worker => ({
    id: account.workerId,
    sub: account.sub,
    username: account.username,
    identityProviderType: "Oidc",
    issuer: options.issuer(),
  });

  const setPassword = async (account: StoredAccount, password: string, mustChange: boolean) => {
    const salt = randomBytes(16);
    account.salt = salt.toString("base64");
    account.hash = (await scrypt(password, salt)).toString("base64");
    account.mustChangePassword = mustChange;
  };

  const find = (username: string) => {
    const account = accounts.get(normalizeUsername(username));
    if (!account) throw new AccountNotFoundError(username);
    return account;
  };

  return {
    refresh: () => exclusive(refreshNow),
    /** Creates a reviewer and returns their one-time generated password. */
    async add(username: string): Promise<{ password: string }> {
      return exclusive(async () => {
        await refreshNow();
        const key = normalizeUsername(username);
        if (accounts.has(key)) throw new AccountExistsError(username);
        const account: StoredAccount = {
          username: key,
          workerId: randomBytes(8).toString("hex"),
          sub: randomUUID(),
          salt: "",
          hash: "",
          mustChangePassword: true,
          createdAt: clock.now().toISOString(),
        };
        const password = generatePassword();
        await setPassword(account, password, true);
        accounts.set(key, account);
        await persist();
        return { password };
      });
    },
    async remove(username: string): Promise<void> {
      return exclusive(async () => {
        await refreshNow();
        const account = find(username);
        accounts.delete(account.username);
        await persist();
      });
    },
    /** Replaces the password with a new generated one that must be changed at the next sign-in. */
    async resetPassword(username: string): Promise<{ password: string }> {
      return exclusive(async () => {
        await refreshNow();
        const account = find(username);
        const password = generatePassword();
        await setPassword(account, password, true);
        await persist();
        return { password };
      });
    },
    async list(): Promise<AccountSummary[]> {
      return exclusive(async () => {
        await refreshNow();
        return [...accounts.values()]
          .map(({ username, workerId, sub, mustChangePassword, createdAt }) => ({
            username,
            workerId,
            sub,
            mustChangePassword,
            createdAt,
          }))
          .sort((a, b) => a.username.localeCompare(b.username));
      });
    },
    /** Checks a password; resolves to the account's worker identity, or undefined when it is wrong. */
    async verify(
      username: string,
      password: string,
    ): Promise<{ worker: Worker; mustChangePassword: boolean } | undefined> {
      const parsed = Username.safeParse(username);
      const account = parsed.success ? accounts.get(username.toLowerCase()) : undefined;
      const salt = account ? Buffer.from(account.salt, "base64") : decoy.salt;
      const expected = account ? Buffer.from(account.hash, "base64") : decoy.hash;
      const actual = await scrypt(password, salt);
      const ok = actual.length === expected.length && timingSafeEqual(actual, expected);
      if (!ok || !account) return undefined;
      return { worker: toWorker(account), mustChangePassword: account.mustChangePassword };
    },
    /** Sets a reviewer-chosen password (at least 12 characters, different from the current one). */
    async changePassword(username: string, newPassword: string): Promise<void> {
      return exclusive(async () => {
        checkNewPassword(newPassword);
        await refreshNow();
        const account = find(username);
        const same = await scrypt(newPassword, Buffer.from(account.salt, "base64"));
        if (timingSafeEqual(same, Buffer.from(account.hash, "base64"))) {
          throw new WeakPasswordError("Choose a password different from the current one");
        }
        await setPassword(account, newPassword, false);
        await persist();
      });
    },
    /** The current identity of a reviewer, or undefined once the account is removed. */
    worker(username: string): Worker | undefined {
      const account = accounts.get(username.toLowerCase());
      return account ? toWorker(account) : undefined;
    },
    /** Lets callers invalidate sessions issued before a password reset. */
    passwordStamp(username: string): string | undefined {
      return accounts.get(username.toLowerCase())?.hash;
    },
  };
}
