/**
 * The TypeScript side of every money-moving command: after validation, a command becomes one item
 * for ledger_apply (ids, time, event id chosen here), goes through the group-commit batcher, and its
 * outcome becomes a record, a replay or a LedgerError. The money rules themselves live in the
 * database functions (src/ledger/sql/); nothing here decides about money.
 */
import { DEFAULT_TENANT } from "../db/schema.js";
import { ulid } from "../ids/ulid.js";
import { requestFingerprint } from "./idempotency.js";
import { LedgerError, LedgerErrorCode, invalidArgument } from "./ledger-error.js";
import type { BatchItem, BatchOutcome, PaymentBatcher } from "./payment-batch.js";
import type { RequestContext } from "./records.js";
import { fromStoredJson } from "./stored-json.js";
import { canonicalMetadata } from "./validation.js";

/**
 * The fingerprint fields of a request's metadata: none when it is empty, so that the fingerprint of
 * a request without metadata is what it was before metadata existed (a retry across the upgrade
 * still replays).
 */
export function metadataFingerprint(metadata: Readonly<Record<string, string>> | undefined): { metadata?: string } {
  return metadata && Object.keys(metadata).length > 0 ? { metadata: canonicalMetadata(metadata) } : {};
}

/** Most items of one batch request (AuthorizePayments, CapturePayments, RefundPayments, WithdrawFundsBatch). */
export const MAX_BATCH_ITEMS = 1_000;

/** A batch request holds 1 to MAX_BATCH_ITEMS `what` (e.g. "payments"); otherwise the whole request fails. */
export function requireBatchSize(count: number, what: string): void {
  if (count === 0) throw invalidArgument("items", `must hold at least one of the ${what}`);
  if (count > MAX_BATCH_ITEMS) throw invalidArgument("items", `must hold at most ${MAX_BATCH_ITEMS} ${what}, got ${count}`);
}

export interface CommandInput<T = unknown> {
  kind: BatchItem["kind"];
  /** The API method, e.g. "CapturePayment": one idempotency key cannot serve two methods. */
  method: string;
  idempotencyKey: string;
  /** The request's fields as the client sent them: what the key's fingerprint covers. */
  request: Record<string, string | bigint>;
  /** The command's fields for the database (ids chosen here included). */
  fields: Record<string, unknown>;
  /** Called with the result when this call recorded it (not for a replay): metrics count once. */
  onRecorded?: (result: T) => void;
}

/**
 * Runs one command through `batcher` and returns its stored result: the first call's result for a
 * live key (IDEMPOTENCY_KEY_REUSED when the key was used for another request), else the result of
 * this call. A refusal from the database becomes a LedgerError with its code, field and message.
 */
export async function runCommand<T>(batcher: PaymentBatcher, input: CommandInput<T>, context: RequestContext): Promise<T> {
  context.signal?.throwIfAborted();
  const prepared = prepareCommand(input, context);
  return finishCommand<T>(prepared, await batcher.submit(prepared.item));
}

/** One outcome of runCommands: the stored result, or the LedgerError this command alone failed with. */
export type CommandOutcome<T> = { value: T } | { error: LedgerError };

/**
 * Runs several commands as runCommand runs one, handing them to the batcher at once so that they
 * travel together, in order. Each input is built by a function, so that a command failing its
 * validation (a LedgerError) fails alone; any other failure rejects the whole call.
 */
export async function runCommands<T>(
  batcher: PaymentBatcher,
  inputs: readonly (() => CommandInput<T>)[],
  context: RequestContext,
  atomic = false,
): Promise<CommandOutcome<T>[]> {
  const release = await batcher.admission.enter(inputs.length, context.signal);
  try {
    return await runAdmitted(batcher, inputs, context, atomic);
  } finally {
    release();
  }
}

/**
 * The outcome of every other item of an atomic batch whose item `failed` (0-based) failed with
 * `reason`. ledger_apply_atomic (src/ledger/sql/35-ledger-apply-atomic.sql) words it the same way
 * when the failure is found in the database; this one is for an item refused before (invalid).
 */
export function abortedBy(failed: number, reason: string): LedgerError {
  return new LedgerError(LedgerErrorCode.ABORTED, `aborted: items[${failed}] failed (${reason}), so no item of this atomic batch was applied`);
}

/**
 * Atomic (all or nothing): when an item is invalid, nothing is sent (that item keeps its error,
 * the others are ABORTED); otherwise the items go to the database together, as one call of their
 * own (ledger_apply_atomic), which answers every item the same way when one is refused or declined.
 */
async function runAdmitted<T>(
  batcher: PaymentBatcher,
  inputs: readonly (() => CommandInput<T>)[],
  context: RequestContext,
  atomic: boolean,
): Promise<CommandOutcome<T>[]> {
  const prepared = inputs.map((input): Prepared<T> | LedgerError => {
    try {
      return prepareCommand(input(), context);
    } catch (error) {
      if (error instanceof LedgerError) return error;
      throw error;
    }
  });
  context.signal?.throwIfAborted();
  const valid = prepared.filter((p): p is Prepared<T> => !(p instanceof LedgerError));
  if (atomic && valid.length < prepared.length) {
    const failed = prepared.findIndex((p) => p instanceof LedgerError);
    const reason = (prepared[failed] as LedgerError).code;
    return prepared.map((p, i) => ({ error: i === failed ? (p as LedgerError) : abortedBy(failed, reason) }));
  }
  const items = valid.map((p) => p.item);
  const outcomes = atomic ? await batcher.submitAtomic(items) : await Promise.all(batcher.submitAll(items));
  let next = 0;
  return prepared.map((p): CommandOutcome<T> => {
    if (p instanceof LedgerError) return { error: p };
    try {
      return { value: finishCommand<T>(p, outcomes[next++]!) };
    } catch (error) {
      if (error instanceof LedgerError) return { error };
      throw error;
    }
  });
}

interface Prepared<T> {
  item: BatchItem;
  onRecorded?: (result: T) => void;
}

function prepareCommand<T>(input: CommandInput<T>, context: RequestContext): Prepared<T> {
  // The shape per kind is checked when the batcher takes the item (ledger-core.ts).
  const item = {
    ...input.fields,
    ...envelopeOf(context),
    kind: input.kind,
    clientId: context.clientId,
    key: input.idempotencyKey,
    method: input.method,
    requestHash: requestFingerprint(input.method, input.request),
  } as BatchItem;
  return { item, onRecorded: input.onRecorded };
}

/**
 * What every item carries besides its command (the one place TypeScript builds it): its time, its
 * event's id, the trace, and the caller, which ledger_apply confines and audits it by. Without a
 * caller: the default tenant, no account limit (the service's own work, tools and tests).
 */
export function envelopeOf(context: Partial<RequestContext>): Pick<BatchItem, "at" | "eventId" | "traceparent" | "tenantId" | "keyId" | "tokenId" | "accountIds"> & { clientId?: string } {
  const caller = context.caller;
  return {
    at: new Date().toISOString(),
    eventId: ulid(),
    traceparent: context.traceparent ?? null,
    tenantId: caller?.tenantId ?? DEFAULT_TENANT,
    ...(context.clientId !== undefined && { clientId: context.clientId }),
    ...(caller?.keyId && { keyId: caller.keyId }),
    ...(caller?.tokenId && { tokenId: caller.tokenId }),
    ...(caller?.accountIds && { accountIds: [...caller.accountIds] }),
  };
}

/** The command's result, or its refusal (IDEMPOTENCY_KEY_REUSED included: ledger_replay decides it). */
function finishCommand<T>({ onRecorded }: Prepared<T>, outcome: BatchOutcome): T {
  if ("error" in outcome) throw ledgerErrorOf(outcome.error);
  const result = fromStoredJson<T>(outcome.result);
  if (!outcome.replayed) onRecorded?.(result);
  return result;
}

/** The LedgerError of a refusal reported by ledger_apply. */
export function ledgerErrorOf(error: { code: string; field: string; message: string }): LedgerError {
  return new LedgerError(error.code as LedgerErrorCode, error.message, error.field || undefined);
}
