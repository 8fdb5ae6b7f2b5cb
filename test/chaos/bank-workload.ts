/**
 * A bank workload for fault tests: 32 clients paying between a few hot and some cold accounts,
 * replaying earlier keys now and then, retrying UNAVAILABLE (and refused connections while the
 * service restarts, and connections lost under a call) with the same key, as a careful client
 * does. Records every acknowledgement so that the test can check "acknowledged = in the database,
 * once".
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { connectionLost } from "../../src/client/ledger-client.js";
import { jsonClients, type LedgerClients } from "../support/clients.js";

export interface BankWorkload {
  /** key -> payment id, for every payment acknowledged to a client (replays must agree). */
  acknowledged: Map<string, string>;
  /** Replays whose answer named another payment than the first acknowledgement: must stay 0. */
  conflictingReplays: number;
  /** Final (non-retried) errors by Connect code name. */
  errors: Map<string, number>;
  /** The first final error of each code, described (message, request id, cause), for assertion messages. */
  errorSamples: Map<string, string>;
  /** performance.now() of every acknowledgement. */
  ackTimes: number[];
  /**
   * performance.now() at which each acknowledged attempt was sent, in the order of ackTimes: an
   * attempt sent after a fault cannot have committed before it.
   */
  ackSentTimes: number[];
  retries: number;
  /** Retried errors by Connect code name (e.g. Aborted would mean contention or a deadlock). */
  retriedCodes: Map<string, number>;
  stop(): Promise<void>;
}

const RETRYABLE = new Set([Code.Unavailable, Code.Aborted, Code.DeadlineExceeded]);

export function startBankWorkload(urls: string[], accountIds: string[], concurrency = 32): BankWorkload {
  const clients: LedgerClients[] = urls.map((url) => jsonClients(url));
  const hot = accountIds.slice(0, 2);
  const state: BankWorkload = { acknowledged: new Map(), conflictingReplays: 0, errors: new Map(), errorSamples: new Map(), ackTimes: [], ackSentTimes: [], retries: 0, retriedCodes: new Map(), stop: async () => {} };
  const keys: string[] = [];
  let running = true;
  let sequence = 0;
  const pick = (list: string[]) => list[Math.floor(Math.random() * list.length)]!;
  const request = new Map<string, { payer: string; payee: string; amount: bigint }>();

  const worker = async (w: number) => {
    while (running) {
      // One in ten requests replays an acknowledged key with the same request.
      const replay = keys.length > 0 && Math.random() < 0.1;
      const key = replay ? pick(keys) : `pay-${w}-${sequence++}`;
      if (!request.has(key)) {
        const payer = Math.random() < 0.5 ? pick(hot) : pick(accountIds);
        let payee = Math.random() < 0.5 ? pick(hot) : pick(accountIds);
        if (payee === payer) payee = accountIds.find((id) => id !== payer)!;
        request.set(key, { payer, payee, amount: BigInt(1 + Math.floor(Math.random() * 50)) });
      }
      const { payer, payee, amount } = request.get(key)!;
      // Retries of one request go on (bounded) while the service or its database is away.
      for (let attempt = 0; ; attempt++) {
        const client = clients[(w + attempt) % clients.length]!;
        const sentAt = performance.now();
        try {
          const { payment } = await client.payments.authorizePayment(
            { idempotencyKey: key, payerAccountId: payer, payeeAccountId: payee, amountCents: amount, currency: "USD" },
            { timeoutMs: 10_000 },
          );
          const first = state.acknowledged.get(key);
          if (first === undefined) {
            state.acknowledged.set(key, payment!.paymentId);
            keys.push(key);
          } else if (first !== payment!.paymentId) state.conflictingReplays++;
          state.ackTimes.push(performance.now());
          state.ackSentTimes.push(sentAt);
          break;
        } catch (error) {
          const connectError = ConnectError.from(error);
          const code = connectError.code;
          // A connection lost under the call (the service was SIGKILLed while the request was on
          // it: EPIPE, which connect-node reports as INTERNAL) is the client's to retry: the key
          // makes the retry safe. The typed client retries it by the same rule.
          const lost = connectionLost(connectError, false);
          if ((RETRYABLE.has(code) || lost) && attempt < 300 && running) {
            state.retries++;
            const retried = lost ? `${Code[code]} (connection lost)` : Code[code];
            state.retriedCodes.set(retried, (state.retriedCodes.get(retried) ?? 0) + 1);
            await new Promise((resolve) => setTimeout(resolve, Math.min(25 * 2 ** Math.min(attempt, 4), 400)));
            continue;
          }
          const name = Code[code];
          state.errors.set(name, (state.errors.get(name) ?? 0) + 1);
          if (!state.errorSamples.has(name)) state.errorSamples.set(name, describe(connectError));
          break;
        }
      }
    }
  };
  const workers = Array.from({ length: concurrency }, (_, w) => worker(w));
  state.stop = async () => {
    running = false;
    await Promise.all(workers);
  };
  return state;
}

/** An error as the test should report it: message, the server's request id (none: raised by the client), causes. */
function describe(connectError: ConnectError): string {
  const causes: string[] = [];
  for (let cause = connectError.cause, depth = 0; cause && depth < 5; depth++) {
    const { code, message } = cause as { code?: unknown; message?: unknown };
    causes.push(`${String(code ?? "")} ${String(message ?? cause)}`.trim());
    cause = (cause as { cause?: unknown }).cause;
  }
  const requestId = connectError.metadata.get("x-request-id") ?? "none (raised by the client)";
  return `${connectError.message}; request id ${requestId}; causes [${causes.join(" <- ")}]`;
}

/** Creates `count` USD accounts with a large deposit each; returns their ids. */
export async function openAccounts(url: string, count: number): Promise<string[]> {
  const { accounts } = jsonClients(url);
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const account = (await accounts.createAccount({ currency: "USD", displayName: `chaos-${i}` })).account!;
    await accounts.depositFunds({ idempotencyKey: `seed-${account.accountId}`, accountId: account.accountId, amountCents: 10_000_000n, currency: "USD" });
    ids.push(account.accountId);
  }
  return ids;
}
