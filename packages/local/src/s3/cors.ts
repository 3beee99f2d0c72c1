/**
 * Bucket CORS: the configuration document in and out, and matching a browser request against
 * it (A2I's reviewer page fetches images cross-origin).
 */
import { ServiceError } from "../edge/protocol";
import type { CorsRule } from "./store";
import { S3_XMLNS, textList } from "./xml";

const CORS_METHODS = ["GET", "PUT", "POST", "DELETE", "HEAD"];

/** S3's origin/header patterns: `*` alone, or one `*` wildcard inside. */
function originMatches(pattern: string, origin: string): boolean {
  if (pattern === "*") return true;
  const star = pattern.indexOf("*");
  if (star < 0) return pattern === origin;
  return (
    origin.length >= pattern.length - 1 &&
    origin.startsWith(pattern.slice(0, star)) &&
    origin.endsWith(pattern.slice(star + 1))
  );
}

/** Validates a parsed `<CORSConfiguration>` and returns its rules. */
export function parseCorsConfiguration(body: Record<string, unknown>): CorsRule[] {
  const rules = (Array.isArray(body.CORSRule) ? (body.CORSRule as Record<string, unknown>[]) : []).map(
    (rule): CorsRule => ({
      allowedOrigins: textList(rule.AllowedOrigin),
      allowedMethods: textList(rule.AllowedMethod),
      allowedHeaders: textList(rule.AllowedHeader),
      exposeHeaders: textList(rule.ExposeHeader),
      ...(rule.MaxAgeSeconds !== undefined ? { maxAgeSeconds: Number(rule.MaxAgeSeconds) } : {}),
    }),
  );
  if (rules.length === 0 || rules.length > 100) {
    throw new ServiceError("MalformedXML", "A CORS configuration must have between 1 and 100 rules.");
  }
  for (const rule of rules) {
    if (rule.allowedOrigins.length === 0 || rule.allowedMethods.length === 0) {
      throw new ServiceError("MalformedXML", "Each CORSRule needs an AllowedOrigin and an AllowedMethod.");
    }
    const bad = rule.allowedMethods.find((method) => !CORS_METHODS.includes(method));
    if (bad) {
      throw new ServiceError(
        "InvalidRequest",
        `Found unsupported HTTP method in CORS config. Unsupported method is ${bad}`,
      );
    }
  }
  return rules;
}

/** The `<CORSConfiguration>` document for GetBucketCors. */
export function corsDocument(rules: CorsRule[]): Record<string, unknown> {
  return {
    CORSConfiguration: {
      "@_xmlns": S3_XMLNS,
      CORSRule: rules.map((rule) => ({
        AllowedHeader: rule.allowedHeaders,
        AllowedMethod: rule.allowedMethods,
        AllowedOrigin: rule.allowedOrigins,
        ExposeHeader: rule.exposeHeaders,
        ...(rule.maxAgeSeconds !== undefined ? { MaxAgeSeconds: rule.maxAgeSeconds } : {}),
      })),
    },
  };
}

/** The first rule allowing this origin, method and request headers, as S3 picks it. */
export function findCorsRule(
  rules: CorsRule[] | undefined,
  origin: string,
  method: string,
  requestHeaders: string[],
): CorsRule | undefined {
  return rules?.find(
    (rule) =>
      rule.allowedOrigins.some((pattern) => originMatches(pattern, origin)) &&
      rule.allowedMethods.includes(method) &&
      requestHeaders.every((name) =>
        rule.allowedHeaders.some((pattern) => originMatches(pattern.toLowerCase(), name.toLowerCase())),
      ),
  );
}

/** Response headers for a preflight the rule allows. */
export function preflightHeaders(
  rule: CorsRule,
  origin: string,
  requested: string[],
): Record<string, string | number> {
  return {
    "access-control-allow-origin": rule.allowedOrigins.includes("*") ? "*" : origin,
    "access-control-allow-methods": rule.allowedMethods.join(", "),
    ...(requested.length > 0 ? { "access-control-allow-headers": requested.join(", ") } : {}),
    ...(rule.exposeHeaders.length > 0
      ? { "access-control-expose-headers": rule.exposeHeaders.join(", ") }
      : {}),
    ...(rule.maxAgeSeconds !== undefined ? { "access-control-max-age": rule.maxAgeSeconds } : {}),
    vary: "Origin, Access-Control-Request-Headers, Access-Control-Request-Method",
    "content-length": 0,
  };
}
