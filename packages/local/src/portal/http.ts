/**
 * Small HTTP helpers for the portal: security headers on every answer, cookies, bodies and the
 * same-origin check that backs the CSRF token.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { readBody } from "../edge/protocol";

/** Pages and scripts come only from the portal itself; nothing may frame it. */
export const CSP_STRICT =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
  "font-src 'self'; form-action 'self'; frame-src 'self'; frame-ancestors 'none'; base-uri 'none'";
// Worker templates written for A2I routinely carry their own <style> blocks; styles cannot run
// code, so rendered templates may use inline CSS while scripts stay restricted to the portal.
export const CSP_TEMPLATE = CSP_STRICT.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'");
/** The preview document: framed by the portal only, and sandboxed even if opened on its own. */
export const CSP_PREVIEW_FRAME = `${CSP_TEMPLATE.replace("frame-ancestors 'none'", "frame-ancestors 'self'")}; sandbox allow-scripts allow-forms`;
/** Served object bytes: never a document that can run anything. */
export const CSP_FILE = "default-src 'none'; style-src 'unsafe-inline'; sandbox";

export interface SendOptions {
  csp?: string;
  headers?: Record<string, string | string[]>;
  frameable?: boolean;
}

/** Writes a complete response with the portal's security headers. */
export function send(
  res: ServerResponse,
  status: number,
  body: string | Buffer,
  contentType: string,
  options: SendOptions = {},
): void {
  const payload = typeof body === "string" ? Buffer.from(body, "utf8") : body;
  res.writeHead(status, {
    "content-type": contentType,
    "content-length": payload.length,
    "content-security-policy": options.csp ?? CSP_STRICT,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": options.frameable ? "SAMEORIGIN" : "DENY",
    "cross-origin-opener-policy": "same-origin",
    "cache-control": "no-store",
    ...options.headers,
  });
  res.end(payload);
}

export const sendHtml = (res: ServerResponse, status: number, body: string, options: SendOptions = {}) =>
  send(res, status, body, "text/html; charset=utf-8", options);

export const sendJsonBody = (res: ServerResponse, status: number, body: unknown) =>
  send(res, status, JSON.stringify(body), "application/json; charset=utf-8");

/** A 303 "see other", the redirect that turns a POST into a GET. */
export function redirect(
  res: ServerResponse,
  location: string,
  headers: Record<string, string | string[]> = {},
) {
  send(res, 303, "", "text/plain; charset=utf-8", { headers: { location, ...headers } });
}

export function parseCookies(req: IncomingMessage): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of (req.headers.cookie ?? "").split(";")) {
    const eq = part.indexOf("=");
    if (eq <= 0) continue;
    const name = part.slice(0, eq).trim();
    if (!out.has(name)) out.set(name, part.slice(eq + 1).trim());
  }
  return out;
}

/** A session cookie the page's scripts cannot read and other sites cannot make the browser send. */
export function sessionCookie(name: string, value: string, maxAgeSeconds: number, secure: boolean): string {
  return `${name}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeSeconds}${secure ? "; Secure" : ""}`;
}

const FORM_BODY_LIMIT = 1024 * 1024;

/** Reads an `application/x-www-form-urlencoded` body. */
export async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const raw = await readBody(req, FORM_BODY_LIMIT);
  return new URLSearchParams(raw.toString("utf8"));
}

/**
 * False when the browser says the request came from another site. Browsers send `Sec-Fetch-Site`
 * on every request, and `Origin` on POSTs — as "null" under our no-referrer policy, so then
 * `Sec-Fetch-Site` decides. Clients that send neither (scripts, tests) still need the CSRF token.
 */
export function isSameOrigin(req: IncomingMessage, allowedOrigins: ReadonlySet<string>): boolean {
  const site = req.headers["sec-fetch-site"];
  if (typeof site === "string") return site === "same-origin" || site === "none";
  const origin = req.headers.origin;
  if (typeof origin === "string" && origin !== "null") {
    return allowedOrigins.has(origin) || origin === `http://${req.headers.host ?? ""}`;
  }
  return true;
}

/** The client address used for sign-in throttling. */
export function clientAddress(req: IncomingMessage): string {
  return req.socket.remoteAddress ?? "unknown";
}
