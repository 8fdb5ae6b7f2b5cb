/**
 * Input rules shared by every ledger operation. Each check throws an INVALID_ARGUMENT LedgerError
 * naming the field, before any database work starts, so malformed requests change nothing.
 */
import { TENANT_ID } from "../db/schema.js";
import { LedgerError, LedgerErrorCode, invalidArgument } from "./ledger-error.js";

/** Largest amount accepted: 2^53 - 1, so amounts survive any JSON consumer intact. */
export const MAX_AMOUNT_CENTS = 9_007_199_254_740_991n;

/** Account ids chosen by callers; dots are reserved for system accounts such as `funding.USD`. */
const ACCOUNT_ID = /^[A-Za-z0-9_-]{1,64}$/;
/** Any stored account id, system accounts included (for reads). */
const ANY_ACCOUNT_ID = /^[A-Za-z0-9_.-]{1,64}$/;
const ULID = /^[0-9A-HJKMNP-TV-Z]{26}$/;

/** NUL: PostgreSQL text and jsonb cannot store it. */
const NUL = /\u0000/;
/**
 * Characters that do not show: BOM, zero-width and bidi controls, other format characters (Cf)
 * and control characters (Cc). In an id they make two ids that look the same differ.
 */
const INVISIBLE = /[\p{Cc}\p{Cf}\u2028\u2029]/u;

const isoCurrencies = new Set(Intl.supportedValuesOf("currency"));

/** A three-letter ISO 4217 code known to the runtime's ICU data, e.g. USD. */
export function requireCurrency(field: string, value: string): void {
  if (!/^[A-Z]{3}$/.test(value)) throw invalidArgument(field, "must be a three-letter upper-case ISO 4217 code");
  if (!isoCurrencies.has(value)) throw invalidArgument(field, `${value} is not an ISO 4217 currency code`);
}

/** A positive amount of minor units no larger than MAX_AMOUNT_CENTS. */
export function requireAmount(field: string, value: bigint): void {
  if (value <= 0n) throw invalidArgument(field, "must be greater than 0");
  if (value > MAX_AMOUNT_CENTS) throw invalidArgument(field, `must be at most ${MAX_AMOUNT_CENTS}`);
}

/** An idempotency key of 1-255 characters. */
export function requireIdempotencyKey(field: string, value: string): void {
  if (value.length === 0) throw invalidArgument(field, "is required on every money-moving request");
  if (value.length > 255) throw invalidArgument(field, "must be at most 255 characters");
  if (INVISIBLE.test(value)) throw invalidArgument(field, "must not contain control, format or invisible characters (BOM, zero-width, bidi controls)");
}

/** An id of a customer account (what callers may create, pay from or pay to). */
export function requireCustomerAccountId(field: string, value: string): void {
  if (value.length === 0) throw invalidArgument(field, "is required");
  if (!ACCOUNT_ID.test(value)) throw invalidArgument(field, "must be 1-64 characters of A-Z a-z 0-9 _ -");
}

/** An id of any account, system accounts included. */
export function requireAnyAccountId(field: string, value: string): void {
  if (value.length === 0) throw invalidArgument(field, "is required");
  if (!ANY_ACCOUNT_ID.test(value)) throw invalidArgument(field, "is not a valid account id");
}

/** A tenant id: 1-64 of a-z 0-9 _ - (lower case, so two spellings never name two tenants). */
export function requireTenantId(field: string, value: string): void {
  if (value.length === 0) throw invalidArgument(field, "is required");
  if (!TENANT_ID.test(value)) throw invalidArgument(field, "must be 1-64 of a-z 0-9 _ - (lower case)");
}

/** A ULID, as generated for payments and deposits. */
export function requireUlid(field: string, value: string): void {
  if (value.length === 0) throw invalidArgument(field, "is required");
  if (!ULID.test(value)) throw invalidArgument(field, "must be a ULID");
}

/** Free text of at most `max` characters; `required` rejects empty or blank text. */
export function requireText(field: string, value: string, max: number, required = false): void {
  if (required && value.trim().length === 0) throw invalidArgument(field, "is required");
  if (value.length > max) throw invalidArgument(field, `must be at most ${max} characters`);
  if (NUL.test(value)) throw invalidArgument(field, "must not contain NUL (U+0000)");
}

/** Metadata limits: keys per map, characters per key, characters per value. */
export const METADATA_LIMITS = { maxKeys: 50, maxKeyChars: 40, maxValueChars: 500 } as const;

/** The field naming one metadata key, e.g. `metadata["order_id"]` (a long key is cut). */
export function metadataField(field: string, key: string): string {
  const shown = [...key].length > METADATA_LIMITS.maxKeyChars ? `${[...key].slice(0, METADATA_LIMITS.maxKeyChars).join("")}...` : key;
  return `${field}[${JSON.stringify(shown)}]`;
}

/**
 * The caller's references on an object or in a filter: at most 50 keys, each 1-40 characters
 * without control or invisible characters, each value at most 500 characters without NUL.
 * Characters are code points.
 */
export function requireMetadata(field: string, metadata: Readonly<Record<string, string>>): void {
  const { maxKeys, maxKeyChars, maxValueChars } = METADATA_LIMITS;
  const keys = Object.keys(metadata);
  if (keys.length > maxKeys) {
    throw new LedgerError(LedgerErrorCode.METADATA_TOO_MANY_KEYS, `${field}: has ${keys.length} keys; at most ${maxKeys} are allowed`, field);
  }
  for (const key of keys) {
    const named = metadataField(field, key);
    const keyError = (why: string) => new LedgerError(LedgerErrorCode.METADATA_KEY_INVALID, `${named}: the key ${why}`, named);
    const valueError = (why: string) => new LedgerError(LedgerErrorCode.METADATA_VALUE_INVALID, `${named}: the value ${why}`, named);
    const chars = [...key].length;
    if (chars === 0) throw keyError("must not be empty");
    if (chars > maxKeyChars) throw keyError(`has ${chars} characters; at most ${maxKeyChars} are allowed`);
    if (INVISIBLE.test(key)) throw keyError("must not contain control, format or invisible characters");
    const value = metadata[key]!;
    const valueChars = [...value].length;
    if (valueChars > maxValueChars) throw valueError(`has ${valueChars} characters; at most ${maxValueChars} are allowed`);
    if (NUL.test(value)) throw valueError("must not contain NUL (U+0000)");
  }
}

/** Metadata in a canonical text (keys sorted), for idempotency fingerprints and page-token filters. */
export function canonicalMetadata(metadata: Readonly<Record<string, string>>): string {
  return JSON.stringify(Object.keys(metadata).sort().map((key) => [key, metadata[key]]));
}
