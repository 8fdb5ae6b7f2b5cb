/**
 * Exponential backoff with full jitter: the delay before attempt n+1 is a random value in
 * [0, min(max, base * 2^(n-1))]. Jitter spreads retries of many rows (and of several relay
 * instances) so they do not hit a recovering broker in lockstep. The one backoff formula of the
 * project: the relay, the ledger's retry of serialization failures and the typed client use it.
 */
export interface BackoffPolicy {
  baseMs: number;
  maxMs: number;
}

/** Delay in ms before the next try after `attempts` failed attempts (attempts >= 1). */
export function backoffDelay(policy: BackoffPolicy, attempts: number, random: () => number = Math.random): number {
  // Cap the exponent too: 2^31 would overflow the multiplication long before maxMs matters.
  const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(Math.max(attempts - 1, 0), 30));
  return Math.floor(random() * ceiling);
}
