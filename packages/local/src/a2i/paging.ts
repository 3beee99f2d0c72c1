/**
 * Keyset paging shared by the list operations: items are ordered by (creation time, name) and a
 * NextToken remembers the last item returned, so pages never repeat or skip an item even when new
 * ones are created between calls.
 */
import { ServiceError } from "../edge/protocol";

export interface Pageable {
  creationTime: string;
  name: string;
}

export interface PageRequest {
  sortOrder?: "Ascending" | "Descending";
  maxResults?: number;
  nextToken?: string;
  /** Creation time strictly after / before (ms since epoch). */
  after?: number;
  before?: number;
  /** What the listing is scoped to; a token from another scope is refused. */
  scope: string;
}

interface Cursor {
  c: number;
  n: string;
  s: string;
}

const DEFAULT_PAGE_SIZE = 100;

function compare(a: Pageable, b: { c: number; n: string }): number {
  const ta = Date.parse(a.creationTime);
  if (ta !== b.c) return ta - b.c;
  return a.name < b.n ? -1 : a.name > b.n ? 1 : 0;
}

function decodeCursor(token: string, scope: string): Cursor {
  let cursor: Cursor;
  try {
    cursor = JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as Cursor;
  } catch {
    throw new ServiceError("ValidationException", "The NextToken is not valid");
  }
  if (typeof cursor?.c !== "number" || typeof cursor.n !== "string" || cursor.s !== scope) {
    throw new ServiceError("ValidationException", "The NextToken is not valid for this request");
  }
  return cursor;
}

/** One page of `items` (default order Descending by creation time — a local choice) and the next token. */
export function page<T extends Pageable>(
  items: Iterable<T>,
  request: PageRequest,
): { items: T[]; nextToken?: string } {
  const descending = (request.sortOrder ?? "Descending") === "Descending";
  const scope = `${request.scope}|${descending ? "D" : "A"}|${request.after ?? ""}|${request.before ?? ""}`;
  const cursor = request.nextToken === undefined ? undefined : decodeCursor(request.nextToken, scope);
  const selected = [...items].filter((item) => {
    const created = Date.parse(item.creationTime);
    if (request.after !== undefined && !(created > request.after)) return false;
    if (request.before !== undefined && !(created < request.before)) return false;
    if (cursor === undefined) return true;
    const order = compare(item, cursor);
    return descending ? order < 0 : order > 0;
  });
  selected.sort((a, b) => {
    const order = compare(a, { c: Date.parse(b.creationTime), n: b.name });
    return descending ? -order : order;
  });
  const size = request.maxResults ?? DEFAULT_PAGE_SIZE;
  const pageItems = selected.slice(0, size);
  const last = pageItems[pageItems.length - 1];
  if (selected.length <= size || last === undefined) return { items: pageItems };
  const next: Cursor = { c: Date.parse(last.creationTime), n: last.name, s: scope };
  return { items: pageItems, nextToken: Buffer.from(JSON.stringify(next)).toString("base64url") };
}
