/**
 * Browser sessions. Kept in memory on purpose: restarting the local cloud signs reviewers out,
 * which costs nothing (their held tasks stay with the queue) and keeps no secrets on disk.
 */
import { randomBytes, timingSafeEqual } from "node:crypto";
import type { Clock } from "../contracts";

export const SESSION_COOKIE = "secondlook_session";
/** A signed-in session lasts a working day; an anonymous one only as long as a sign-in form. */
const SIGNED_IN_TTL_MS = 12 * 60 * 60 * 1000;
const ANONYMOUS_TTL_MS = 60 * 60 * 1000;
// Anonymous sessions exist only to carry the sign-in form's CSRF token; bound them so a flood of
// cookie-less requests cannot grow memory without limit.
const MAX_SESSIONS = 10_000;

export interface Session {
  id: string;
  csrfToken: string;
  expiresAt: number;
  /** Set once signed in. */
  username?: string;
  /** The account's password hash when the session began: a reset or removal ends the session. */
  passwordStamp?: string;
  /** Signed in with a generated password: only the change-password page is reachable. */
  mustChangePassword: boolean;
  /** Tasks answered in this session, for the progress line. */
  answered: number;
  /** Rendered template previews, by id (the preview iframe fetches them). */
  previews: Map<string, { html: string; expiresAt: number }>;
}

const token = () => randomBytes(32).toString("base64url");

/** An in-memory session table with expiry. */
export function createSessions(clock: Clock) {
  const sessions = new Map<string, Session>();

  const prune = () => {
    const now = clock.now().getTime();
    for (const [id, s] of sessions) if (s.expiresAt <= now) sessions.delete(id);
    // Still full: drop the oldest (Map keeps insertion order).
    while (sessions.size >= MAX_SESSIONS) {
      const oldest = sessions.keys().next().value;
      if (oldest === undefined) break;
      sessions.delete(oldest);
    }
  };

  return {
    get(id: string | undefined): Session | undefined {
      if (!id) return undefined;
      const session = sessions.get(id);
      if (!session) return undefined;
      if (session.expiresAt <= clock.now().getTime()) {
        sessions.delete(id);
        return undefined;
      }
      return session;
    },
    /** A fresh session; signing in always creates a new id so a planted cookie is useless. */
    create(signedIn?: { username: string; passwordStamp: string; mustChangePassword: boolean }): Session {
      if (sessions.size >= MAX_SESSIONS) prune();
      const session: Session = {
        id: token(),
        csrfToken: token(),
        expiresAt: clock.now().getTime() + (signedIn ? SIGNED_IN_TTL_MS : ANONYMOUS_TTL_MS),
        username: signedIn?.username,
        passwordStamp: signedIn?.passwordStamp,
        mustChangePassword: signedIn?.mustChangePassword ?? false,
        answered: 0,
        previews: new Map(),
      };
      sessions.set(session.id, session);
      return session;
    },
    destroy(id: string): void {
      sessions.delete(id);
    },
    ttlSeconds(session: Session): number {
      return Math.max(0, Math.floor((session.expiresAt - clock.now().getTime()) / 1000));
    },
  };
}

export type Sessions = ReturnType<typeof createSessions>;

/** Constant-time comparison of a submitted CSRF token with the session's. */
export function csrfMatches(session: Session, submitted: string | undefined): boolean {
  if (!submitted) return false;
  const a = Buffer.from(session.csrfToken);
  const b = Buffer.from(submitted);
  return a.length === b.length && timingSafeEqual(a, b);
}
