/**
 * JSON that round-trips bigint and Date, for results kept in the database (idempotency replays
 * must return exactly what the first request returned, amounts and timestamps included).
 */

/** Encodes `value`; bigints and Dates are tagged so `fromStoredJson` can restore them. */
export function toStoredJson(value: unknown): unknown {
  return JSON.parse(
    JSON.stringify(value, function (this: Record<string, unknown>, key, encoded: unknown) {
      const original = this[key];
      if (typeof original === "bigint") return { $bigint: original.toString() };
      if (original instanceof Date) return { $date: original.toISOString() };
      return encoded;
    }),
  );
}

/** Restores what `toStoredJson` encoded. */
export function fromStoredJson<T>(stored: unknown): T {
  return JSON.parse(JSON.stringify(stored), (_key, value: unknown) => {
    if (value && typeof value === "object" && !Array.isArray(value)) {
      const tagged = value as { $bigint?: string; $date?: string };
      if (typeof tagged.$bigint === "string") return BigInt(tagged.$bigint);
      if (typeof tagged.$date === "string") return new Date(tagged.$date);
    }
    return value;
  }) as T;
}
