/**
 * Circuit breaker for the Kafka side of the relay. After `threshold` consecutive failed batches
 * (broker trouble, not bad messages) it opens: nothing is claimed from the outbox while open, so a
 * dead broker costs neither database work nor retry attempts. When the cool-down has passed it lets
 * one probe batch through (half-open); success closes it, failure re-opens it with a doubled
 * cool-down, capped. It never gives up: the relay keeps probing until the broker is back.
 */
export type CircuitState = "closed" | "open" | "half-open";

export interface CircuitBreakerOptions {
  threshold: number;
  cooldownMs: number;
  maxCooldownMs: number;
  /** Called on every state change (logging, metrics). */
  onChange?: (state: CircuitState, detail: { failures: number; retryInMs: number }) => void;
  now?: () => number;
}

export class CircuitBreaker {
  #state: CircuitState = "closed";
  #failures = 0;
  #cooldownMs: number;
  #openUntil = 0;
  readonly #options: CircuitBreakerOptions;
  readonly #now: () => number;

  constructor(options: CircuitBreakerOptions) {
    this.#options = options;
    this.#cooldownMs = options.cooldownMs;
    this.#now = options.now ?? Date.now;
  }

  get state(): CircuitState {
    return this.#state;
  }

  /**
   * How long to wait before the next batch may run: 0 when closed or when an open circuit's
   * cool-down is over (it then turns half-open and lets exactly one probe through).
   */
  waitMs(): number {
    if (this.#state !== "open") return 0;
    const remaining = this.#openUntil - this.#now();
    if (remaining > 0) return remaining;
    this.#transition("half-open", 0);
    return 0;
  }

  /** Records a batch that reached the broker. */
  success(): void {
    this.#failures = 0;
    this.#cooldownMs = this.#options.cooldownMs;
    if (this.#state !== "closed") this.#transition("closed", 0);
  }

  /** Records a batch that failed because of the broker. */
  failure(): void {
    this.#failures += 1;
    if (this.#state === "half-open") {
      this.#cooldownMs = Math.min(this.#cooldownMs * 2, this.#options.maxCooldownMs);
      this.#open();
    } else if (this.#state === "closed" && this.#failures >= this.#options.threshold) {
      this.#open();
    }
  }

  #open(): void {
    this.#openUntil = this.#now() + this.#cooldownMs;
    this.#transition("open", this.#cooldownMs);
  }

  #transition(state: CircuitState, retryInMs: number): void {
    this.#state = state;
    this.#options.onChange?.(state, { failures: this.#failures, retryInMs });
  }
}
