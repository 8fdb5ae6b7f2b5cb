/** Connect handlers of payment.v1.AccountService: translate messages, call the ledger. */
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import type { AccountService } from "../../gen/payment/v1/account_pb.js";
import type { Ledger } from "../ledger/ledger.js";
import { invalidArgument } from "../ledger/ledger-error.js";
import { accountStatusFromProto, accountToProto, batchOutcomesToProto, depositToProto, entryToProto, withdrawalToProto } from "./proto-mapping.js";
import { timestampDate } from "./timestamps.js";
import { readConsistencyOf } from "./recent-writes.js";
import { credentialKey, requestContextOf } from "./request-context.js";
import type { AccountTokenMinting } from "./access.js";
import { catalogueError, EdgeErrorCode } from "./error-catalogue.js";

export function accountServiceHandlers(ledger: Ledger, tokens: AccountTokenMinting): ServiceImpl<typeof AccountService> {
  return {
    async createAccount(request, context) {
      const account = await ledger.createAccount(
        {
          currency: request.currency,
          displayName: request.displayName,
          accountId: request.accountId,
          overdraftLimitCents: request.overdraftLimitCents,
          metadata: request.metadata,
        },
        requestContextOf(context),
      );
      return { account: accountToProto(account) };
    },

    async getAccount(request, context) {
      return { account: accountToProto(await ledger.getAccount(request.accountId, requestContextOf(context))) };
    },

    async depositFunds(request, context) {
      const deposit = await ledger.depositFunds(
        {
          idempotencyKey: request.idempotencyKey,
          accountId: request.accountId,
          amountCents: request.amountCents,
          currency: request.currency,
          metadata: request.metadata,
        },
        requestContextOf(context),
      );
      return { deposit: depositToProto(deposit), availableBalanceCents: deposit.balanceAfterCents };
    },

    async listAccounts(request, context) {
      const statuses = request.statuses.map((status) => {
        const known = accountStatusFromProto.get(status);
        if (!known) throw invalidArgument("statuses", `${status} is not an account status`);
        return known;
      });
      const page = await ledger.listAccounts(
        {
          displayNamePrefix: request.displayNamePrefix,
          pageSize: request.pageSize,
          pageToken: request.pageToken,
          metadata: request.metadata,
          statuses,
          createdAfter: request.createdAfter && timestampDate("created_after", request.createdAfter),
          createdBefore: request.createdBefore && timestampDate("created_before", request.createdBefore),
        },
        readConsistencyOf(context),
        requestContextOf(context),
      );
      return { accounts: page.items.map(accountToProto), nextPageToken: page.nextPageToken };
    },

    async *watchAccount(request, context) {
      for await (const change of ledger.watchAccount(request.accountId, request.resumeToken, context.signal, requestContextOf(context))) {
        yield {
          accountId: change.balance.accountId,
          currency: change.balance.currency,
          availableBalanceCents: change.balance.availableCents,
          heldBalanceCents: change.balance.heldCents,
          ledgerBalanceCents: change.balance.ledgerCents,
          entrySequence: change.balance.entrySequence,
          version: change.balance.entrySequence,
          entry: change.entry && entryToProto(change.entry),
          resumeToken: change.resumeToken,
        };
      }
    },

    async listAccountEntries(request, context) {
      const page = await ledger.listAccountEntries(
        {
          accountId: request.accountId,
          from: request.from && timestampDate("from", request.from),
          to: request.to && timestampDate("to", request.to),
          newestFirst: request.newestFirst,
          pageSize: request.pageSize,
          pageToken: request.pageToken,
        },
        readConsistencyOf(context),
        requestContextOf(context),
      );
      return { entries: page.items.map(entryToProto), nextPageToken: page.nextPageToken };
    },

    async withdrawFunds(request, context) {
      const withdrawal = await ledger.withdrawFunds(
        {
          idempotencyKey: request.idempotencyKey,
          accountId: request.accountId,
          amountCents: request.amountCents,
          currency: request.currency,
          reference: request.reference,
          metadata: request.metadata,
        },
        requestContextOf(context),
      );
      return { withdrawal: withdrawalToProto(withdrawal), balanceAfterCents: withdrawal.balanceAfterCents };
    },

    async withdrawFundsBatch(request, context) {
      const outcomes = await ledger.withdrawFundsBatch(
        request.items.map((item) => ({
          idempotencyKey: item.idempotencyKey,
          accountId: item.accountId,
          amountCents: item.amountCents,
          currency: item.currency,
          reference: item.reference,
          metadata: item.metadata,
        })),
        requestContextOf(context),
        request.atomic,
      );
      return {
        outcomes: batchOutcomesToProto(outcomes, "withdrawal" as const, (withdrawal) => ({
          withdrawal: withdrawalToProto(withdrawal),
          balanceAfterCents: withdrawal.balanceAfterCents,
        })),
      };
    },

    async updateAccount(request, context) {
      const paths = new Set(request.updateMask?.paths ?? []);
      for (const path of paths) {
        if (path !== "overdraft_limit_cents" && path !== "metadata") {
          throw invalidArgument("update_mask", `names ${JSON.stringify(path)}; only "overdraft_limit_cents" and "metadata" can be updated`);
        }
      }
      // An empty mask is the limit alone: UpdateAccount as it was before metadata existed.
      const limit = paths.size === 0 || paths.has("overdraft_limit_cents");
      if (!paths.has("metadata") && Object.keys(request.metadata).length > 0) {
        throw invalidArgument("metadata", 'is set but update_mask does not name "metadata" (add it to replace the metadata)');
      }
      const updated = await ledger.updateAccount(
        {
          accountId: request.accountId,
          overdraftLimitCents: limit ? request.overdraftLimitCents : undefined,
          metadata: paths.has("metadata") ? request.metadata : undefined,
          idempotencyKey: request.idempotencyKey,
        },
        requestContextOf(context),
      );
      return { accountId: updated.accountId, overdraftLimitCents: updated.overdraftLimitCents, account: accountToProto(updated.account) };
    },

    async closeAccount(request, context) {
      const account = await ledger.closeAccount({ accountId: request.accountId, idempotencyKey: request.idempotencyKey }, requestContextOf(context));
      return { account: accountToProto(account) };
    },
    async mintAccountToken(request, context) {
      const credential = context.values.get(credentialKey);
      // With authentication off there is no key to mint from (nor would a token be checked).
      if (!credential) throw catalogueError(EdgeErrorCode.PERMISSION_DENIED, "MintAccountToken needs an API key: authentication is off");
      const { token, expiresAt } = await tokens.mint(credential, {
        accountIds: request.accountIds,
        scopes: request.scopes,
        ttlSeconds: request.ttlSeconds,
      });
      return { token, expiresAt: timestampFromDate(expiresAt) };
    },
  };
}
