/**
 * Opaque, stable page tokens for keyset pagination. A token holds the sort key of the last row
 * returned (never an offset), so rows written after the first page never shift or repeat a later
 * page, and a page costs one index range scan however deep it is. The token also carries a digest
 * of the request's filters: a token is only valid with the filters it was issued for.
 */
import { createHash } from "node:crypto";
import { invalidArgument } from "./ledger-error.js";

/** Page size when the request gives none. */
export const DEFAULT_PAGE_SIZE = 50;
/** Largest page a request may ask for. */
export const MAX_PAGE_SIZE = 500;

/** The sort key of a row: strings only, so it survives JSON exactly (bigints and times as text). */
export type PageKey = string[];

/** Validates a requested page size and applies the default. */
export function pageSizeOf(field: string, requested: number): number {
  if (requested === 0) return DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(requested) || requested < 0) throw invalidArgument(field, "must not be negative");
  if (requested > MAX_PAGE_SIZE) throw invalidArgument(field, `must be at most ${MAX_PAGE_SIZE}`);
  return requested;
}

function digestOf(filters: unknown): string {
  return createHash("sha256").update(JSON.stringify(filters)).digest("base64url").slice(0, 12);
}

/** The token that continues after `key` for a request with these `filters`. */
export function encodePageToken(filters: unknown, key: PageKey): string {
  return Buffer.from(JSON.stringify({ f: digestOf(filters), k: key })).toString("base64url");
}

/**
 * The key a token continues after, undefined for an empty token (the first page). A token that is
 * malformed or was issued for other filters is an INVALID_ARGUMENT about `field`.
 */
export function decodePageToken(field: string, token: string, filters: unknown, keyLength: number): PageKey | undefined {
  if (token === "") return undefined;
  let parsed: { f?: unknown; k?: unknown };
  try {
    parsed = JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as typeof parsed;
  } catch {
    throw invalidArgument(field, "is not a page token issued by this service");
  }
  const key = parsed?.k;
  if (!Array.isArray(key) || key.length !== keyLength || !key.every((part) => typeof part === "string")) {
    throw invalidArgument(field, "is not a page token issued by this service");
  }
  if (parsed.f !== digestOf(filters)) throw invalidArgument(field, "was issued for a request with other filters");
  return key as PageKey;
}

/**
 * Splits `rows` fetched with limit `pageSize + 1` into the page and the next token: the extra row
 * only tells that more exist.
 */
export function pageOf<T>(rows: T[], pageSize: number, filters: unknown, keyOf: (row: T) => PageKey): { items: T[]; nextPageToken: string } {
  const items = rows.slice(0, pageSize);
  const last = items.at(-1);
  const nextPageToken = rows.length > pageSize && last ? encodePageToken(filters, keyOf(last)) : "";
  return { items, nextPageToken };
}
