/**
 * ULIDs from a pooled CSPRNG buffer. The `ulid` package asks the system for one random byte per
 * character (16 getRandomValues calls per id, and it re-detects its generator on every call); at a
 * few thousand payments per second, each minting two ids, that was over a tenth of the service's CPU.
 * Here the randomness comes from the same source, fetched 4 KiB at a time.
 */
import { getRandomValues } from "node:crypto";
import { ulid as encodeUlid } from "ulid";

const pool = new Uint8Array(4096);
let offset = pool.length;

/** A uniform float in [0, 1) with 8 bits of entropy, as the ulid package's own generator gives. */
function pooledRandom(): number {
  if (offset === pool.length) {
    getRandomValues(pool);
    offset = 0;
  }
  return pool[offset++]! / 256;
}

/** A new ULID for the current time (26 Crockford base32 characters). */
export function ulid(): string {
  return encodeUlid(undefined, pooledRandom);
}
