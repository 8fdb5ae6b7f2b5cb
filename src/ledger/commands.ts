/**
 * The TypeScript side of every money-moving command: after validation, a command becomes one item
 * for ledger_apply (ids, time, event id chosen here), goes through the group-commit batcher, and its
 * outcome becomes a record, a replay or a LedgerError. The money rules themselves live in the
 * database functions (drizzle/functions/); nothing here decides about money.
 */
import { ulid } from "../ids/ulid.js";
import { replayStoredResult, requestFingerprint } from "./idempotency.js";
import { LedgerError, type LedgerErrorCode } from "./ledger-error.js";
import type { BatchItem, PaymentBatcher } from "./payment-batch.js";
import type { RequestContext } from "./records.js";
import { fromStoredJson } from "./stored-json.js";

export interface CommandInput<T = unknown> {
  kind: BatchItem["kind"];
  /** The API method, e.g. "CapturePayment": one idempotency key cannot serve two methods. */
  method: string;
  idempotencyKey: string;
  /** The request's fields as the client sent them: what the key's fingerprint covers. */
  request: Record<string, string | bigint>;
  /** The command's fields for the database (ids chosen here included). */
  fields: Record<string, string | null>;
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
  const scope = { clientId: context.clientId, key: input.idempotencyKey, method: input.method };
  const fingerprint = requestFingerprint(input.method, input.request);
  const outcome = await batcher.submit({
    ...input.fields,
    kind: input.kind,
    clientId: scope.clientId,
    key: scope.key,
    method: scope.method,
    requestHash: fingerprint,
    at: new Date().toISOString(),
    eventId: ulid(),
    traceparent: context.traceparent ?? null,
  });
  if ("error" in outcome) throw ledgerErrorOf(outcome.error);
  if (outcome.replayed) return replayStoredResult<T>(scope, fingerprint, outcome);
  const result = fromStoredJson<T>(outcome.result);
  input.onRecorded?.(result);
  return result;
}

/** The LedgerError of a refusal reported by ledger_apply. */
export function ledgerErrorOf(error: { code: string; field: string; message: string }): LedgerError {
  return new LedgerError(error.code as LedgerErrorCode, error.message, error.field || undefined);
}
