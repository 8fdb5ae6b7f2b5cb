/**
 * The boundary between TypeScript and the ledger's SQL (ledger_apply, src/ledger/sql/), declared
 * once: the command items TypeScript sends, the outcome SQL answers for each, and the records SQL
 * stores (idempotency results) and returns. TypeScript's types are derived from these schemas; every
 * item is checked against them before it is sent (payment-batch.ts), and the tests check what SQL
 * returns against them (test/ledger/ledger-core.test.ts), so neither side can drift alone.
 *
 * Items carry strings only (JSON has no int64): amounts as decimal strings, times as ISO strings.
 * Stored records tag int64 as {"$bigint": "..."} and times as {"$date": "..."} (stored-json.ts);
 * `Restored<T>` is the type after fromStoredJson.
 */
import { Type, type Static, type TSchema } from "typebox";
import { TENANT_ID } from "../db/schema.js";
import { LedgerErrorCode } from "./ledger-error.js";

const Text = Type.String();
const Id = Type.String({ minLength: 1, maxLength: 64 });
const Currency = Type.String({ pattern: "^[A-Z]{3}$" });
const Cents = Type.String({ pattern: "^-?[0-9]{1,19}$" });
const Iso = Type.String({ pattern: "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z$" });
const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);
/** The caller's references: string values by key (limits: validation.ts, requireMetadata). */
const Metadata = Type.Record(Type.String(), Type.String());
/** A payment's payee: empty for a split payment (its payees are its legs). */
const PayeeId = Type.Union([Id, Type.Literal("")]);

/**
 * Who sent an item (issue 21, RequestContext.caller): ledger_apply refuses an item touching another
 * tenant's accounts, or for an account token (`accountIds`) accounts it does not list
 * (28-ledger-confinement.sql), and audits the others with these fields (32-ledger-audit.sql).
 */
const CallerFields = {
  tenantId: Type.String({ pattern: TENANT_ID.source }),
  clientId: Type.Optional(Text),
  keyId: Type.Optional(Nullable(Text)),
  tokenId: Type.Optional(Nullable(Text)),
  accountIds: Type.Optional(Type.Array(Id)),
};
/** Every item: what it is, when (its records' and event's time), its event's id, the request's trace, the caller. */
const Envelope = { at: Iso, eventId: Type.String({ pattern: "^[0-9A-HJKMNP-TV-Z]{26}$" }), traceparent: Nullable(Text), ...CallerFields };
/** Items of requests with an idempotency key: its scope and the request's fingerprint. */
const Keyed = { ...Envelope, clientId: Text, key: Type.String({ minLength: 1 }), method: Text, requestHash: Text };

const item = <K extends string, P extends Record<string, TSchema>>(kind: K, fields: P) =>
  Type.Object({ kind: Type.Literal(kind), ...fields }, { additionalProperties: false });

/** One item per command kind, as ledger_apply takes it. */
export const CommandItems = {
  open: item("open", {
    ...Envelope,
    accountId: Id,
    currency: Currency,
    displayName: Text,
    overdraftLimitCents: Type.Optional(Cents),
    funding: Type.Union([Type.Literal("true"), Type.Literal("false")]),
    metadata: Type.Optional(Metadata),
  }),
  limit: item("limit", { ...Envelope, accountId: Id, overdraftLimitCents: Cents }),
  /** A keyed UpdateAccount: the metadata and/or the limit (null: unchanged). */
  update_account: item("update_account", { ...Keyed, accountId: Id, overdraftLimitCents: Nullable(Cents), metadata: Nullable(Metadata) }),
  close: item("close", { ...Keyed, accountId: Id }),
  update_payment: item("update_payment", { ...Keyed, paymentId: Id, metadata: Metadata }),
  deposit: item("deposit", { ...Keyed, depositId: Id, accountId: Id, amountCents: Cents, currency: Currency, fundingAccountId: Id, metadata: Type.Optional(Metadata) }),
  withdraw: item("withdraw", {
    ...Keyed,
    withdrawalId: Id,
    accountId: Id,
    amountCents: Cents,
    currency: Currency,
    reference: Text,
    fundingAccountId: Id,
    metadata: Type.Optional(Metadata),
  }),
  authorize: item("authorize", {
    ...Keyed,
    paymentId: Id,
    payerAccountId: Id,
    /** Empty for a split payment: its payees are `splits`. */
    payeeAccountId: PayeeId,
    amountCents: Cents,
    currency: Currency,
    description: Text,
    captureMethod: Type.Union([Type.Literal("AUTOMATIC"), Type.Literal("MANUAL")]),
    holdExpiresAt: Nullable(Iso),
    metadata: Type.Optional(Metadata),
    /** A split payment's legs, in order (ledger_cmd_authorize_split, 21-ledger-splits.sql). */
    splits: Type.Optional(Type.Array(Type.Object({ payeeAccountId: Id, amountCents: Cents }, { additionalProperties: false }), { minItems: 1 })),
  }),
  capture: item("capture", { ...Keyed, paymentId: Id, amountCents: Cents }),
  void: item("void", { ...Keyed, paymentId: Id }),
  refund: item("refund", { ...Keyed, refundId: Id, paymentId: Id, amountCents: Cents, reason: Text, metadata: Type.Optional(Metadata) }),
  expire: item("expire", { ...Envelope, paymentId: Id }),
} as const;

const { open, limit, update_account, close, update_payment, deposit, withdraw, authorize, capture, void: release, refund, expire } = CommandItems;
export const CommandItem = Type.Union([open, limit, update_account, close, update_payment, deposit, withdraw, authorize, capture, release, refund, expire]);
/** One command for ledger_apply. */
export type CommandItem = Static<typeof CommandItem>;
export type CommandKind = CommandItem["kind"];

const StoredBigint = Type.Object({ $bigint: Cents }, { additionalProperties: false });
const StoredDate = Type.Object({ $date: Iso }, { additionalProperties: false });
const record = <P extends Record<string, TSchema>>(fields: P) => Type.Object(fields, { additionalProperties: false });
const PaymentStatus = Type.Union([
  Type.Literal("AUTHORIZED"),
  Type.Literal("DECLINED"),
  Type.Literal("REQUIRES_CAPTURE"),
  Type.Literal("CAPTURED"),
  Type.Literal("VOIDED"),
  Type.Literal("EXPIRED"),
]);
const DeclineReason = Type.Union([Type.Literal("INSUFFICIENT_FUNDS"), Type.Literal("CURRENCY_MISMATCH"), Type.Literal("BALANCE_LIMIT_EXCEEDED")]);

export const StoredAccount = record({
  accountId: Id,
  /** Absent in results stored before tenants existed (then the default tenant). */
  tenantId: Type.Optional(Text),
  currency: Currency,
  displayName: Text,
  createdAt: StoredDate,
  metadata: Metadata,
  status: Type.Union([Type.Literal("OPEN"), Type.Literal("CLOSED")]),
  closedAt: Nullable(StoredDate),
});
/** What UpdateAccount answers: the limit in force and the account. */
export const StoredLimit = record({ accountId: Id, overdraftLimitCents: StoredBigint, account: StoredAccount });
/** Absent in results stored before metadata existed (then none). */
const StoredMetadata = Type.Optional(Metadata);
/** One leg of a split payment as ledger_payment_json stores it. */
export const StoredSplit = record({ payeeAccountId: Id, amountCents: StoredBigint, capturedCents: StoredBigint, refundedCents: StoredBigint });
export const StoredPayment = record({
  paymentId: Id,
  status: PaymentStatus,
  declineReason: Nullable(DeclineReason),
  payerAccountId: Id,
  payeeAccountId: PayeeId,
  amountCents: StoredBigint,
  currency: Currency,
  description: Text,
  createdAt: StoredDate,
  // Absent in results stored before the lifecycle existed (then AUTOMATIC, nothing held).
  captureMethod: Type.Optional(Type.Union([Type.Literal("AUTOMATIC"), Type.Literal("MANUAL")])),
  heldCents: Type.Optional(StoredBigint),
  capturedCents: Type.Optional(StoredBigint),
  refundedCents: Type.Optional(StoredBigint),
  holdExpiresAt: Type.Optional(Nullable(StoredDate)),
  metadata: StoredMetadata,
  /** Only on a split payment: its legs in order, each with what reached its payee and went back. */
  splits: Type.Optional(Type.Array(StoredSplit, { minItems: 1 })),
});
export const StoredDeposit = record({
  depositId: Id,
  accountId: Id,
  amountCents: StoredBigint,
  currency: Currency,
  createdAt: StoredDate,
  balanceAfterCents: StoredBigint,
  metadata: StoredMetadata,
});
export const StoredWithdrawal = record({
  withdrawalId: Id,
  accountId: Id,
  amountCents: StoredBigint,
  currency: Currency,
  reference: Text,
  status: Type.Union([Type.Literal("WITHDRAWN"), Type.Literal("DECLINED")]),
  declineReason: Nullable(DeclineReason),
  createdAt: StoredDate,
  balanceAfterCents: StoredBigint,
  metadata: StoredMetadata,
});
export const StoredRefund = record({
  refundId: Id,
  paymentId: Id,
  amountCents: StoredBigint,
  reason: Text,
  status: Type.Union([Type.Literal("REFUNDED"), Type.Literal("DECLINED")]),
  declineReason: Nullable(DeclineReason),
  createdAt: StoredDate,
  payment: StoredPayment,
  metadata: StoredMetadata,
});

/** The record each kind's result is (what the idempotency key keeps and a replay returns). */
export const ResultOf = {
  open: StoredAccount,
  limit: StoredLimit,
  update_account: StoredLimit,
  close: StoredAccount,
  update_payment: StoredPayment,
  deposit: StoredDeposit,
  withdraw: StoredWithdrawal,
  authorize: StoredPayment,
  capture: StoredPayment,
  void: StoredPayment,
  expire: StoredPayment,
  refund: StoredRefund,
} as const satisfies Record<CommandKind, TSchema>;

export const LedgerRefusal = Type.Object(
  {
    code: Type.Union(Object.values(LedgerErrorCode).map((code) => Type.Literal(code))),
    field: Text,
    message: Type.String({ minLength: 1 }),
  },
  { additionalProperties: false },
);

/** What ledger_apply answers for one item (the result's shape is ResultOf[item.kind]). */
export const CommandOutcome = Type.Union([
  Type.Object({ replayed: Type.Boolean(), result: Type.Unknown() }, { additionalProperties: false }),
  Type.Object({ error: LedgerRefusal }, { additionalProperties: false }),
]);
export type CommandOutcome = { replayed: boolean; result: unknown } | { error: { code: string; field: string; message: string } };

/** A stored form's type after fromStoredJson: tagged int64 become bigint, tagged times Date. */
export type Restored<T> = T extends { $bigint: string }
  ? bigint
  : T extends { $date: string }
    ? Date
    : T extends readonly unknown[]
      ? { [I in keyof T]: Restored<T[I]> }
      : T extends object
        ? { [K in keyof T]: Restored<T[K]> }
        : T;

export type AccountRecord = Restored<Static<typeof StoredAccount>>;
export type AccountUpdateRecord = Restored<Static<typeof StoredLimit>>;
export type PaymentRecord = Restored<Static<typeof StoredPayment>>;
export type PaymentSplitRecord = Restored<Static<typeof StoredSplit>>;
export type DepositRecord = Restored<Static<typeof StoredDeposit>>;
export type WithdrawalRecord = Restored<Static<typeof StoredWithdrawal>>;
export type RefundRecord = Restored<Static<typeof StoredRefund>>;
