/**
 * Hot statements as named prepared statements. drizzle's `execute` sends every statement unnamed
 * (postgres.js `unsafe` without `prepare`): the server parses and plans it again and the client
 * describes and decodes its result shape again on every call. For the statements the write path
 * and the relay run hundreds of times a second, postgres.js keeps one prepared statement per
 * connection instead (docs/profile.md has the measured difference). PGlite runs them through
 * drizzle as before: it has no connections to keep statements on.
 */
import type { SQL } from "drizzle-orm";
import type postgres from "postgres";
import type { Database } from "./client.js";
import { queryRows } from "./query-rows.js";

interface PgDialectLike {
  sqlToQuery(query: SQL): { sql: string; params: unknown[] };
}

/** The postgres.js client behind `db`, when that is the backend. */
function postgresClientOf(db: Database): postgres.Sql | undefined {
  const client = (db as unknown as { $client?: unknown }).$client;
  return typeof client === "function" && "unsafe" in client ? (client as postgres.Sql) : undefined;
}

/** `query` as text and parameters, rendered by `db`'s dialect. */
function render(db: Database, query: SQL): { sql: string; params: unknown[] } {
  return (db as unknown as { dialect: PgDialectLike }).dialect.sqlToQuery(query);
}

/** Sends `text` as a named prepared statement of `client` (one per connection, kept by postgres.js). */
async function sendPrepared<T>(client: postgres.Sql | postgres.TransactionSql, text: string, params: unknown[]): Promise<T[]> {
  return (await client.unsafe(text, params as postgres.ParameterOrJSON<never>[], { prepare: true })) as unknown as T[];
}

/** Runs `query` (one statement) prepared on postgres.js, through drizzle on PGlite; returns its rows. */
export async function queryPrepared<T>(db: Database, query: SQL): Promise<T[]> {
  const client = postgresClientOf(db);
  return client ? preparedOn<T>(client, db, query) : queryRows<T>(db, query);
}

/**
 * Runs `query` prepared on `client` (a postgres.js client or one of its transactions), rendered by
 * `db`'s dialect.
 */
export async function preparedOn<T>(client: postgres.Sql | postgres.TransactionSql, db: Database, query: SQL): Promise<T[]> {
  const { sql, params } = render(db, query);
  return sendPrepared<T>(client, sql, params);
}

/**
 * A statement the write path sends at every batch, rendered by drizzle once: later calls send the
 * same text with their own parameters (drizzle's rendering of the template cost about as much as
 * the rest of the call's client side, docs/profile.md). `render` must use each parameter once, in
 * order, as a plain value: the first rendering checks that, so a statement that does not is
 * refused at its first use rather than sent with shifted parameters.
 */
export class HotStatement<P extends unknown[]> {
  #text: string | undefined;

  constructor(private readonly render: (...params: P) => SQL) {}

  /** Runs the statement with `params`, prepared on postgres.js, through drizzle on PGlite. */
  async query<T>(db: Database, ...params: P): Promise<T[]> {
    const client = postgresClientOf(db);
    if (!client) return queryRows<T>(db, this.render(...params));
    return sendPrepared<T>(client, this.#text ?? this.#renderOnce(db, params), params);
  }

  #renderOnce(db: Database, params: P): string {
    const rendered = render(db, this.render(...params));
    if (rendered.params.length !== params.length || rendered.params.some((value, i) => value !== params[i])) {
      throw new Error(`a HotStatement must use each parameter once, in order, as a value: ${rendered.sql}`);
    }
    this.#text = rendered.sql;
    return rendered.sql;
  }
}
