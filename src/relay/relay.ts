/**
 * The outbox relay: moves committed outbox rows to Kafka, at least once, in commit order per
 * aggregate (see outbox_claim in src/relay/sql/outbox-relay.sql), with several instances sharing one database.
 *
 * One batch is one database transaction: claim due rows (row locks), send them, wait for every
 * delivery report, then record each outcome and commit. A crash anywhere before the commit releases
 * the locks and the rows are sent again later with the same event id (consumers de-duplicate);
 * nothing is marked published that the broker did not acknowledge.
 */
import { hostname } from "node:os";
import type { Logger } from "pino";
import type { DatabaseHandle } from "../db/client.js";
import type { HealthReporter } from "../health/health-monitor.js";
import { describeKafkaError, isMessageFault, type Kafka } from "../kafka/kafka-client.js";
import { ensureTopics, eventTopic, probeBroker } from "../kafka/topics.js";
import { backoffDelay, type BackoffPolicy } from "../retry/backoff.js";
import { CircuitBreaker, type CircuitState } from "./circuit-breaker.js";
import { EventPublisher } from "./event-publisher.js";
import { outboxStore, type BacklogSample, type BatchOutcome as RecordedOutcome, type OutboxRow, type OutboxStore } from "./outbox-store.js";
import { createRelayMetrics, type RelayMetrics } from "./relay-metrics.js";
import { Doorbell, type WakeupSource } from "./wakeup.js";

/** Bound of the idle broker probe: with the 1 s idle poll, an outage is seen within about 2 s. */
const BROKER_PROBE_TIMEOUT_MS = 1_000;

export interface RelayOptions {
  topicPrefix: string;
  topicPartitions: number;
  topicReplicationFactor: number;
  /** Rows claimed per transaction. */
  batchSize: number;
  /** Fallback poll when no notification arrives. */
  pollIntervalMs: number;
  /**
   * After a notification wakes the idle loop, the claim waits until this long after the previous
   * claim began: under a trickle of single payments every commit notifies, and one claim per
   * commit costs a transaction of its own; the window makes one claim serve all the commits within
   * it (measured in docs/relay.md). A notification after a quiet spell is claimed at once. 0: never wait.
   */
  lingerMs?: number;
  /** Failed attempts after which an undeliverable message goes to the dead-letter topic. */
  maxAttempts: number;
  backoff: BackoffPolicy;
  breaker: { threshold: number; cooldownMs: number; maxCooldownMs: number };
  /** How long one send may wait for the broker (librdkafka message.timeout.ms). */
  deliveryTimeoutMs: number;
}

export interface RelayDependencies {
  database: DatabaseHandle;
  kafka: Kafka;
  wakeups: WakeupSource;
  logger: Logger;
  /** Names this instance in logs and metrics; defaults to host and pid. */
  instanceId?: string;
  /** Told "relay" is serving while the circuit is closed, and not while it is open or probing. */
  health?: HealthReporter;
}

/** What one batch did, for the loop's pacing and the circuit breaker. */
interface BatchOutcome {
  claimed: number;
  published: number;
  brokerFailures: number;
  /** Rows of the batch's aggregates that its publishing or dead-lettering made claimable. */
  successorsPending: boolean;
  /** Milliseconds until the earliest row in backoff is due, as the batch's commit saw it. */
  nextRetryInMs: number | null;
}

/** One relay instance: `start()` it, `stop()` it; any number may run against one database. */
export class OutboxRelay {
  readonly instanceId: string;
  readonly #deps: RelayDependencies;
  readonly #options: RelayOptions;
  readonly #logger: Logger;
  readonly #publisher: EventPublisher;
  readonly #store: OutboxStore;
  readonly #breaker: CircuitBreaker;
  readonly #bell = new Doorbell();
  #metrics: RelayMetrics | undefined;
  #unlisten: (() => Promise<void>) | undefined;
  /** Whether notifications wake the loop (see #run: not while commits outpace the linger window). */
  #listening = false;
  #loop: Promise<void> | undefined;
  #waiting = false;
  #stopping = false;
  #topicsReady = false;
  #admin: ReturnType<RelayDependencies["kafka"]["admin"]> | undefined;
  #published = 0;
  #deadLettered = 0;
  /** When the last claim began (performance.now()). */
  #claimedAt = 0;
  /** When a delivery or a probe last reached the broker (Date.now()); 0: not yet. */
  #brokerSeenAt = 0;

  constructor(deps: RelayDependencies, options: RelayOptions) {
    this.#deps = deps;
    this.#options = options;
    this.instanceId = deps.instanceId ?? `${hostname()}-${process.pid}`;
    this.#logger = deps.logger.child({ component: "relay", relay: this.instanceId });
    this.#publisher = new EventPublisher(deps.kafka, options, this.#logger);
    this.#store = outboxStore(deps.database);
    this.#breaker = new CircuitBreaker({
      ...options.breaker,
      onChange: (state, detail) => {
        const log = state === "open" ? this.#logger.warn.bind(this.#logger) : this.#logger.info.bind(this.#logger);
        log({ circuit: state, ...detail }, `relay: circuit ${state}`);
        deps.health?.report("relay", state === "closed");
      },
    });
  }

  /** Circuit breaker state: "open" while the broker is considered down. */
  get circuitState(): CircuitState {
    return this.#breaker.state;
  }

  /** Whether the loop has nothing to claim and waits for a notification, a backoff expiry or the poll. */
  get waiting(): boolean {
    return this.#waiting;
  }

  /** Events this instance has had acknowledged, and moved to the dead-letter topic. */
  get counts(): { published: number; deadLettered: number } {
    return { published: this.#published, deadLettered: this.#deadLettered };
  }

  /** Pending rows and the age of the oldest, as the backlog gauges report them. */
  backlog(): Promise<BacklogSample> {
    return this.#store.backlog();
  }

  /** Starts listening and the publishing loop; returns at once (the broker may still be down). */
  async start(): Promise<void> {
    this.#metrics = createRelayMetrics(this.instanceId, () => this.backlog(), () => this.#breaker.state);
    this.#unlisten = await this.#deps.wakeups(() => this.#bell.ring());
    this.#listening = true;
    this.#deps.health?.report("relay", true);
    this.#loop = this.#run();
    this.#logger.info({ topicPrefix: this.#options.topicPrefix }, "relay: started");
  }

  /**
   * Stops claiming, lets the batch in progress finish (its deliveries are awaited, bounded by the
   * delivery timeout), flushes the producer and disconnects.
   */
  async stop(): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    this.#bell.ring();
    await this.#loop;
    await this.#unlisten?.();
    await this.#publisher.close(this.#options.deliveryTimeoutMs);
    await this.#admin?.disconnect().catch(() => {});
    this.#metrics?.close();
    this.#logger.info(this.counts, "relay: stopped");
  }

  async #run(): Promise<void> {
    while (!this.#stopping) {
      const pause = this.#breaker.waitMs();
      if (pause > 0) {
        await this.#sleep(pause);
        continue;
      }
      let outcome: BatchOutcome;
      // A half-open circuit risks a single row on its probe.
      const limit = this.#breaker.state === "half-open" ? 1 : this.#options.batchSize;
      try {
        await this.#ensureTopics();
        outcome = await this.#runBatch(limit);
      } catch (error) {
        // Database trouble or topics not creatable: nothing was marked, try again after a pause.
        this.#logger.warn({ err: error }, "relay: batch failed, retrying");
        if (!this.#topicsReady) this.#breaker.failure();
        await this.#sleep(this.#options.pollIntervalMs);
        continue;
      }
      if (outcome.claimed > 0) {
        if (outcome.published > 0) {
          this.#breaker.success();
          this.#brokerSeenAt = Date.now();
        } else if (outcome.brokerFailures > 0) this.#breaker.failure();
      }
      // Claim again at once when the claim was full (more may be due) or when publishing made the
      // next event of an aggregate claimable. Otherwise wait for a notification: rows committed
      // while this batch was being published have rung the bell already, so the wait ends at
      // once. This saves the second, empty claim after each batch under a trickle of single
      // payments (measured: 0.71 -> 0.68 ms of relay CPU per event at 400/s; the rest is per claim).
      if (outcome.claimed >= limit || outcome.successorsPending) continue;
      // Notifications only say that there is work. While commits come faster than the linger
      // window (one rang during this batch), each of them still woke this process for nothing
      // (docs/relay.md): stop listening and claim once per window until a claim comes back empty;
      // then listen again and claim once more, for the commits in between.
      if (outcome.claimed > 0 && this.#listening && this.#bell.pending) await this.#setListening(false);
      else if (outcome.claimed === 0 && !this.#listening && (await this.#setListening(true))) continue;
      // Idle: no delivery would notice the broker going away (a 32 s outage once went unnoticed
      // until the first payment after it), so ask the broker itself, unless a delivery or a probe
      // heard from it within the last poll interval: under a trickle of single payments the loop
      // turns idle after nearly every claim, and would otherwise add a broker round trip to each.
      if (Date.now() - this.#brokerSeenAt >= this.#options.pollIntervalMs) await this.#probeBroker();
      // Sleep until a notification, the next backoff expiry, or the fallback poll. A batch's commit
      // reported the next expiry; only an empty claim has to ask.
      const retryIn = outcome.claimed > 0 ? outcome.nextRetryInMs : await this.#store.nextRetryInMs().catch(() => null);
      // Until the next claim is due: `lingerMs` after the previous claim began. Woken by a commit,
      // no sooner than that, so that one claim serves every commit of that window; after a quiet
      // spell that moment has passed and the claim goes at once; under load a batch outlasts the
      // window and nothing is added. While not listening, the wait ends at that moment: one poll per window.
      const dueAt = this.#claimedAt + (this.#options.lingerMs ?? 0);
      const untilDue = dueAt - performance.now();
      const timeout = this.#listening ? this.#options.pollIntervalMs : Math.max(0, untilDue);
      this.#waiting = true;
      const rung = await this.#bell.wait(Math.min(timeout, retryIn ?? Infinity));
      if (rung && untilDue > 0 && !this.#stopping) await this.#sleep(dueAt - performance.now());
      this.#waiting = false;
    }
  }

  /** Listens for notifications or stops; false when that failed (the fallback poll still runs). */
  async #setListening(on: boolean): Promise<boolean> {
    try {
      if (on) this.#unlisten = await this.#deps.wakeups(() => this.#bell.ring());
      else {
        const unlisten = this.#unlisten;
        this.#unlisten = undefined;
        await unlisten?.();
      }
      this.#listening = on;
      return true;
    } catch (error) {
      this.#logger.debug({ err: error, listen: on }, "relay: changing the notification subscription failed");
      if (!on) this.#listening = false;
      return false;
    }
  }

  async #ensureTopics(): Promise<void> {
    if (this.#topicsReady) return;
    const { topicPrefix: prefix, topicPartitions: partitions, topicReplicationFactor: replicationFactor } = this.#options;
    await ensureTopics(this.#deps.kafka, { prefix, partitions, replicationFactor }, this.#options.deliveryTimeoutMs);
    this.#topicsReady = true;
  }

  async #runBatch(limit: number): Promise<BatchOutcome> {
    this.#claimedAt = performance.now();
    const batch = await this.#store.batch(async (session) => {
      const rows = await session.claim(limit);
      if (rows.length === 0) return undefined;
      const started = performance.now();
      const results = await this.#publisher.publish(rows);
      const ackedAt = Date.now();

      const published: OutboxRow[] = [];
      const dead: { row: OutboxRow; error: string }[] = [];
      const recorded: RecordedOutcome = { published: [], failed: [], dead: [] };
      const retry = (row: OutboxRow, error: string) =>
        recorded.failed.push({ id: String(row.id), retryInMs: Math.round(backoffDelay(this.#options.backoff, row.attempts + 1)), error });
      let brokerFailures = 0;
      for (const [i, result] of results.entries()) {
        const row = rows[i]!;
        if (result.status === "fulfilled") {
          published.push(row);
          recorded.published.push(String(row.id));
          continue;
        }
        const error = describeKafkaError(result.reason);
        if (!isMessageFault(result.reason)) brokerFailures += 1;
        // The dead-letter record must be on Kafka before the row is marked dead; if it is not,
        // the row stays pending and the next attempt tries the dead-letter topic again.
        else if (row.attempts + 1 >= this.#options.maxAttempts && (await this.#deadLetter(row, error))) {
          dead.push({ row, error });
          recorded.dead.push({ id: String(row.id), error });
          continue;
        }
        retry(row, error);
      }
      // Not awaited here: the outcome goes out with the COMMIT (outbox-store.ts), read below.
      return { rows, published, dead, recorded, brokerFailures, started, ackedAt, finished: session.finish(recorded) };
    });
    if (!batch) return { claimed: 0, published: 0, brokerFailures: 0, successorsPending: false, nextRetryInMs: null };
    const { rows, published, dead, recorded, brokerFailures, started, ackedAt } = batch;
    const { successorsPending, nextRetryInMs } = await batch.finished;

    this.#published += published.length;
    this.#metrics?.published(
      published.length,
      (performance.now() - started) / 1000,
      published.map((row) => (ackedAt - row.createdAtMs) / 1000),
    );
    for (const { row, error } of dead) this.#logDead(row, error);
    const failed = recorded.failed.length;
    const messageFailures = failed - brokerFailures;
    if (brokerFailures > 0) this.#metrics?.failed("broker", brokerFailures);
    if (messageFailures > 0) this.#metrics?.failed("message", messageFailures);
    if (failed > 0) {
      this.#logger.warn(
        { failed, brokerFailures, firstError: recorded.failed[0]!.error },
        "relay: deliveries failed, rescheduled with backoff",
      );
    }
    return { claimed: rows.length, published: published.length, brokerFailures, successorsPending, nextRetryInMs };
  }

  /** Sends `row`'s dead-letter record; false when the broker did not take it. */
  async #deadLetter(row: OutboxRow, error: string): Promise<boolean> {
    try {
      await this.#publisher.publishDeadLetter(row, {
        eventId: row.eventId,
        eventType: row.eventType,
        aggregateType: row.aggregateType,
        aggregateId: row.aggregateId,
        topic: eventTopic(this.#options.topicPrefix, row.eventType),
        attempts: row.attempts + 1,
        lastError: error,
        createdAt: new Date(row.createdAtMs).toISOString(),
        deadAt: new Date().toISOString(),
      });
      return true;
    } catch (dlqError) {
      this.#logger.warn({ err: dlqError, eventId: row.eventId }, "relay: dead-letter publish failed");
      return false;
    }
  }

  #logDead(row: OutboxRow, error: string): void {
    this.#deadLettered += 1;
    this.#metrics?.deadLettered();
    this.#logger.error(
      { eventId: row.eventId, eventType: row.eventType, attempts: row.attempts + 1, error },
      "relay: event moved to the dead-letter topic",
    );
  }

  /** Health and the breaker follow the broker while idle; see #run. */
  async #probeBroker(): Promise<void> {
    if (!this.#topicsReady) return;
    try {
      if (!this.#admin) {
        const admin = this.#deps.kafka.admin();
        await admin.connect();
        this.#admin = admin;
      }
      const reachable = await probeBroker(this.#admin, BROKER_PROBE_TIMEOUT_MS);
      if (reachable) {
        this.#breaker.success();
        this.#brokerSeenAt = Date.now();
      } else {
        this.#breaker.failure();
      }
      // Not serving from the first failed probe, before the breaker's threshold is reached.
      this.#deps.health?.report("relay", reachable && this.#breaker.state === "closed");
    } catch (error) {
      this.#logger.debug({ err: error }, "relay: broker probe failed");
    }
  }

  /** Sleeps `ms`, cut short only by stop() (notifications must not shorten an open circuit). */
  async #sleep(ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    while (!this.#stopping && Date.now() < deadline) await this.#bell.wait(deadline - Date.now());
  }
}
