/**
 * Reads from a replica, by choice (READ_DATABASE_URL), with a bounded staleness.
 *
 * Every SAMPLE_INTERVAL_MS the primary's WAL position (`pg_current_wal_lsn()`) is sampled with the
 * time, and the replica's replay position (`pg_last_wal_replay_lsn()`; a server not in recovery
 * counts as fully caught up). Once the replica has replayed past a sample, every commit
 * acknowledged before that sample's time is visible on it: that time is `caughtUpTo`, and the
 * replica's staleness is at most `now - caughtUpTo`. A read goes to the replica only while that is
 * within the bound and, for read-your-writes, `caughtUpTo` is after the caller's last write;
 * otherwise, and from the first sample the replica does not answer (within SAMPLE_INTERVAL_MS of it
 * going away; a read already running there fails as `unavailable` and its retry goes to the
 * primary), it goes to the primary.
 */
import { metrics, type ObservableResult } from "@opentelemetry/api";
import postgres from "postgres";
import type { Logger } from "../telemetry/logger.js";
import { TELEMETRY_SCOPE } from "../telemetry/scope.js";
import { openDatabase, type Database, type DatabaseHandle } from "./client.js";

/** Where a read runs. */
export interface ReadSource {
  /**
   * The replica when it is fresh enough, else the primary. `writtenAt` (performance.now() of the
   * caller's last write through this process) asks for a replica that has that write.
   */
  choose(writtenAt?: number): Database;
}

const SAMPLE_INTERVAL_MS = 100;
/** A sample query slower than this counts as no answer. */
const SAMPLE_TIMEOUT_MS = 1_000;

export interface ReadReplicaOptions {
  primary: DatabaseHandle;
  /** The primary's URL, for the WAL position samples (a connection of their own). */
  primaryUrl: string;
  replicaUrl: string;
  maxStalenessMs: number;
  poolSize: number;
  logger: Logger;
}

export class ReadReplica implements ReadSource {
  readonly #options: ReadReplicaOptions;
  readonly #replica: DatabaseHandle;
  readonly #primaryProbe: postgres.Sql;
  readonly #replicaProbe: postgres.Sql;
  /** Primary positions not yet replayed by the replica, oldest first. */
  readonly #pending: { lsn: bigint; at: number }[] = [];
  #caughtUpTo = Number.NEGATIVE_INFINITY;
  /** Whether the replica answered its last sample: a replica that does not is not used at all. */
  #replicaUp = false;
  #usingReplica: boolean | undefined;
  #timer: NodeJS.Timeout | undefined;
  #sampling = false;
  #closeMetrics: () => void = () => {};

  private constructor(options: ReadReplicaOptions, replica: DatabaseHandle) {
    this.#options = options;
    this.#replica = replica;
    const probe = (url: string, name: string) =>
      postgres(url, { max: 1, connect_timeout: 1, backoff: () => 0.1, onnotice: () => {}, connection: { application_name: name } });
    this.#primaryProbe = probe(options.primaryUrl, "payment-ledger-lsn");
    this.#replicaProbe = probe(options.replicaUrl, "payment-ledger-replica-lsn");
  }

  /** Opens the replica's pool and starts sampling; reads go to the primary until the first sample. */
  static async open(options: ReadReplicaOptions): Promise<ReadReplica> {
    const replica = await openDatabase({ url: options.replicaUrl, poolSize: options.poolSize, pgliteDataDir: "" });
    const reads = new ReadReplica(options, replica);
    reads.#timer = setInterval(() => void reads.#sample(), SAMPLE_INTERVAL_MS);
    reads.#timer.unref();
    reads.#closeMetrics = reads.#observe();
    await reads.#sample();
    return reads;
  }

  /** Upper bound of the replica's staleness now, in ms (Infinity before it first caught up). */
  get stalenessMs(): number {
    return performance.now() - this.#caughtUpTo;
  }

  choose(writtenAt?: number): Database {
    const usable = this.#replicaUp && this.stalenessMs <= this.#options.maxStalenessMs;
    const fresh = usable && (writtenAt === undefined || this.#caughtUpTo > writtenAt);
    this.#report(usable);
    return fresh ? this.#replica.db : this.#options.primary.db;
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    this.#closeMetrics();
    await Promise.all([this.#replica.close(), this.#primaryProbe.end({ timeout: 1 }), this.#replicaProbe.end({ timeout: 1 })]);
  }

  async #sample(): Promise<void> {
    if (this.#sampling) return;
    this.#sampling = true;
    try {
      const at = performance.now();
      const primary = await withTimeout(this.#primaryProbe<{ lsn: string }[]>`select pg_current_wal_lsn()::text as lsn`);
      if (primary) this.#pending.push({ lsn: lsnValue(primary[0]!.lsn), at });
      // Not in recovery (the replica URL names a primary, e.g. after a failover): it has everything.
      const replica = await withTimeout(
        this.#replicaProbe<{ lsn: string | null }[]>`select coalesce(pg_last_wal_replay_lsn(), pg_current_wal_lsn())::text as lsn`,
      );
      this.#replicaUp = replica !== undefined;
      if (!replica) return;
      const replayed = lsnValue(replica[0]!.lsn!);
      while (this.#pending.length > 0 && this.#pending[0]!.lsn <= replayed) this.#caughtUpTo = this.#pending.shift()!.at;
      // A primary that does not answer yields no samples; bound the queue anyway.
      if (this.#pending.length > 1_000) this.#pending.splice(0, this.#pending.length - 1_000);
    } finally {
      this.#sampling = false;
    }
  }

  /**
   * Gauges for operators: the replica's staleness bound (absent until it first caught up) and
   * whether reads may use it. Created when the replica opens: a meter obtained before the SDK is
   * registered would stay a no-op.
   */
  #observe(): () => void {
    const meter = metrics.getMeter(TELEMETRY_SCOPE);
    const staleness = meter.createObservableGauge("db.replica.staleness", {
      description: "Upper bound of how far the read replica is behind the primary",
      unit: "s",
    });
    const usable = meter.createObservableGauge("db.replica.usable", {
      description: "1 while reads may use the replica (answering, within READ_MAX_STALENESS_MS), else 0",
    });
    const observeStaleness = (result: ObservableResult) => {
      if (Number.isFinite(this.stalenessMs)) result.observe(this.stalenessMs / 1000);
    };
    const observeUsable = (result: ObservableResult) =>
      result.observe(this.#replicaUp && this.stalenessMs <= this.#options.maxStalenessMs ? 1 : 0);
    staleness.addCallback(observeStaleness);
    usable.addCallback(observeUsable);
    return () => {
      staleness.removeCallback(observeStaleness);
      usable.removeCallback(observeUsable);
    };
  }

  /** Logs when reads move between the replica and the primary. */
  #report(usingReplica: boolean): void {
    if (usingReplica === this.#usingReplica) return;
    const staleness = Number.isFinite(this.stalenessMs) ? Math.round(this.stalenessMs) : null;
    if (this.#usingReplica !== undefined || !usingReplica) {
      this.#options.logger[usingReplica ? "info" : "warn"](
        { stalenessMs: staleness, maxStalenessMs: this.#options.maxStalenessMs },
        usingReplica ? "read replica caught up: reads served by it" : "read replica behind or unreachable: reads served by the primary",
      );
    }
    this.#usingReplica = usingReplica;
  }
}

/** `16/B374D848` -> a number that orders like the WAL position. */
function lsnValue(lsn: string): bigint {
  const [high, low] = lsn.split("/");
  return (BigInt(`0x${high}`) << 32n) + BigInt(`0x${low}`);
}

async function withTimeout<T>(query: Promise<T>): Promise<T | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      query.catch(() => undefined),
      new Promise<undefined>((resolve) => {
        timer = setTimeout(() => resolve(undefined), SAMPLE_TIMEOUT_MS);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
