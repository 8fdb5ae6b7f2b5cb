/**
 * TypeBox definitions of every event the ledger publishes: the single source of the event types.
 * `schemas/*.json` are generated from these (npm run schemas) and checked current by a test.
 *
 * Amounts are strings of decimal digits: JSON numbers cannot carry int64 minor units safely.
 */
import { Type, type Static, type TSchema } from "typebox";
import { TENANT_ID } from "../db/schema.js";

const Ulid = Type.String({ pattern: "^[0-9A-HJKMNP-TV-Z]{26}$", description: "ULID" });
const AccountId = Type.String({ minLength: 1, maxLength: 64, pattern: "^[A-Za-z0-9_.-]+$" });
const Currency = Type.String({ pattern: "^[A-Z]{3}$", description: "ISO 4217 code" });
const Cents = Type.String({ pattern: "^-?[0-9]{1,19}$", description: "int64 minor units as a decimal string" });
const PositiveCents = Type.String({ pattern: "^[1-9][0-9]{0,18}$", description: "positive int64 minor units" });
const Timestamp = Type.String({
  pattern: "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?Z$",
  description: "RFC 3339 UTC time",
});

/**
 * The caller's references on the object (at most 50 keys of 1-40 characters, values at most 500).
 * Optional: absent in events written before metadata existed.
 */
const Metadata = Type.Optional(
  Type.Record(Type.String({ minLength: 1, maxLength: 40 }), Type.String({ maxLength: 500 }), {
    maxProperties: 50,
    description: "the caller's references: key -> value",
  }),
);

export const AccountCreatedPayload = Type.Object(
  {
    accountId: AccountId,
    currency: Currency,
    displayName: Type.String({ maxLength: 200 }),
    createdAt: Timestamp,
    metadata: Metadata,
    /** The account's tenant (issue 21); absent in events written before tenants existed. */
    tenantId: Type.Optional(Type.String({ pattern: TENANT_ID.source })),
  },
  { additionalProperties: false },
);

export const FundsDepositedPayload = Type.Object(
  {
    depositId: Ulid,
    accountId: AccountId,
    fundingAccountId: AccountId,
    amountCents: PositiveCents,
    currency: Currency,
    balanceAfterCents: Cents,
    createdAt: Timestamp,
    metadata: Metadata,
  },
  { additionalProperties: false },
);

/** A split payment's payee field: empty, the payees are its `splits`. */
const PayeeAccountId = Type.Union([AccountId, Type.Literal("")], { description: "the payee; empty for a split payment (see splits)" });

/** The legs of a split payment (absent for a payment to one payee), in the order requested. */
const legs = <P extends Record<string, TSchema>>(fields: P, description: string) =>
  Type.Optional(Type.Array(Type.Object({ payeeAccountId: AccountId, ...fields }, { additionalProperties: false }), { minItems: 1, description }));

const paymentFields = {
  paymentId: Ulid,
  payerAccountId: AccountId,
  payeeAccountId: PayeeAccountId,
  amountCents: PositiveCents,
  currency: Currency,
  description: Type.String({ maxLength: 500 }),
  createdAt: Timestamp,
  /** The payment's metadata. */
  metadata: Metadata,
  splits: legs({ amountCents: PositiveCents }, "each payee's part of the amount"),
};

const CaptureMethodField = Type.Union([Type.Literal("AUTOMATIC"), Type.Literal("MANUAL")]);
const NonNegativeCents = Type.String({ pattern: "^(0|[1-9][0-9]{0,18})$", description: "int64 minor units, 0 or more" });

export const PaymentAuthorizedPayload = Type.Object(
  {
    ...paymentFields,
    /** AUTOMATIC: the money moved; MANUAL: it is held (absent in events written before holds existed). */
    captureMethod: Type.Optional(CaptureMethodField),
    /** When the hold is released if not captured (MANUAL only). */
    holdExpiresAt: Type.Optional(Timestamp),
  },
  { additionalProperties: false },
);

export const PaymentDeclinedPayload = Type.Object(
  {
    ...paymentFields,
    declineReason: Type.Union([
      Type.Literal("INSUFFICIENT_FUNDS"),
      Type.Literal("CURRENCY_MISMATCH"),
      Type.Literal("BALANCE_LIMIT_EXCEEDED"),
    ]),
    captureMethod: Type.Optional(CaptureMethodField),
  },
  { additionalProperties: false },
);

const holdFields = {
  paymentId: Ulid,
  payerAccountId: AccountId,
  payeeAccountId: PayeeAccountId,
  currency: Currency,
  createdAt: Timestamp,
  /** The payment's metadata. */
  metadata: Metadata,
};

export const PaymentCapturedPayload = Type.Object(
  {
    ...holdFields,
    capturedCents: PositiveCents,
    releasedCents: NonNegativeCents,
    splits: legs({ capturedCents: NonNegativeCents }, "what this capture moved to each payee (the captured amount divided by the split rule)"),
  },
  { additionalProperties: false },
);

export const PaymentVoidedPayload = Type.Object({ ...holdFields, releasedCents: PositiveCents }, { additionalProperties: false });

export const PaymentExpiredPayload = Type.Object({ ...holdFields, releasedCents: PositiveCents }, { additionalProperties: false });

export const PaymentRefundedPayload = Type.Object(
  {
    refundId: Ulid,
    paymentId: Ulid,
    payerAccountId: AccountId,
    payeeAccountId: PayeeAccountId,
    amountCents: PositiveCents,
    currency: Currency,
    reason: Type.String({ maxLength: 500 }),
    /** The payment's refunded total after this refund. */
    refundedCents: PositiveCents,
    createdAt: Timestamp,
    /** The refund's metadata. */
    metadata: Metadata,
    splits: legs({ refundedCents: NonNegativeCents }, "what this refund took back from each payee (divided by the split rule)"),
  },
  { additionalProperties: false },
);

export const FundsWithdrawnPayload = Type.Object(
  {
    withdrawalId: Ulid,
    accountId: AccountId,
    fundingAccountId: AccountId,
    amountCents: PositiveCents,
    currency: Currency,
    reference: Type.String({ maxLength: 200 }),
    balanceAfterCents: Cents,
    createdAt: Timestamp,
    metadata: Metadata,
  },
  { additionalProperties: false },
);

/** Why a refund or a payout was declined (the funds rule or int64; see 10-ledger-helpers.sql). */
const FundsDeclineReason = Type.Union([Type.Literal("INSUFFICIENT_FUNDS"), Type.Literal("BALANCE_LIMIT_EXCEEDED")]);

/** A refund the payee could not cover (or that would overflow the payer): recorded, nothing moved. */
export const PaymentRefundDeclinedPayload = Type.Object(
  {
    refundId: Ulid,
    paymentId: Ulid,
    payerAccountId: AccountId,
    payeeAccountId: PayeeAccountId,
    amountCents: PositiveCents,
    currency: Currency,
    reason: Type.String({ maxLength: 500 }),
    declineReason: FundsDeclineReason,
    /** The payment's refunded total, unchanged by this refund. */
    refundedCents: NonNegativeCents,
    createdAt: Timestamp,
    /** The refund's metadata. */
    metadata: Metadata,
    splits: legs({ refundedCents: NonNegativeCents }, "what this refund would have taken back from each payee"),
  },
  { additionalProperties: false },
);

/** A payout the account could not cover: recorded, nothing moved. */
export const FundsWithdrawalDeclinedPayload = Type.Object(
  {
    withdrawalId: Ulid,
    accountId: AccountId,
    fundingAccountId: AccountId,
    amountCents: PositiveCents,
    currency: Currency,
    reference: Type.String({ maxLength: 200 }),
    declineReason: FundsDeclineReason,
    /** The account's available balance, unchanged by this payout. */
    balanceAfterCents: Cents,
    createdAt: Timestamp,
    metadata: Metadata,
  },
  { additionalProperties: false },
);

/** UpdateAccount with metadata (or a key): the account's metadata and limit after it. */
export const AccountUpdatedPayload = Type.Object(
  { accountId: AccountId, metadata: Metadata, overdraftLimitCents: NonNegativeCents, updatedAt: Timestamp },
  { additionalProperties: false },
);

/** CloseAccount: from closedAt on, the account refuses every money command. */
export const AccountClosedPayload = Type.Object(
  { accountId: AccountId, currency: Currency, closedAt: Timestamp, metadata: Metadata },
  { additionalProperties: false },
);

/** UpdatePayment: the payment's metadata after it. */
export const PaymentUpdatedPayload = Type.Object(
  { paymentId: Ulid, payerAccountId: AccountId, payeeAccountId: PayeeAccountId, metadata: Metadata, updatedAt: Timestamp },
  { additionalProperties: false },
);

/** Event type name -> payload schema and the aggregate it belongs to. */
export const eventCatalog = {
  AccountCreated: { aggregateType: "account", payload: AccountCreatedPayload },
  FundsDeposited: { aggregateType: "account", payload: FundsDepositedPayload },
  PaymentAuthorized: { aggregateType: "payment", payload: PaymentAuthorizedPayload },
  PaymentDeclined: { aggregateType: "payment", payload: PaymentDeclinedPayload },
  PaymentCaptured: { aggregateType: "payment", payload: PaymentCapturedPayload },
  PaymentVoided: { aggregateType: "payment", payload: PaymentVoidedPayload },
  PaymentExpired: { aggregateType: "payment", payload: PaymentExpiredPayload },
  PaymentRefunded: { aggregateType: "payment", payload: PaymentRefundedPayload },
  FundsWithdrawn: { aggregateType: "account", payload: FundsWithdrawnPayload },
  PaymentRefundDeclined: { aggregateType: "payment", payload: PaymentRefundDeclinedPayload },
  FundsWithdrawalDeclined: { aggregateType: "account", payload: FundsWithdrawalDeclinedPayload },
  AccountUpdated: { aggregateType: "account", payload: AccountUpdatedPayload },
  AccountClosed: { aggregateType: "account", payload: AccountClosedPayload },
  PaymentUpdated: { aggregateType: "payment", payload: PaymentUpdatedPayload },
} as const satisfies Record<string, { aggregateType: string; payload: TSchema }>;

export type EventType = keyof typeof eventCatalog;
export type EventPayload<T extends EventType> = Static<(typeof eventCatalog)[T]["payload"]>;

/** Current schema version of every envelope; bump when a payload changes incompatibly. */
export const SCHEMA_VERSION = 1;

function envelopeOf<T extends EventType>(type: T) {
  const entry = eventCatalog[type];
  return Type.Object(
    {
      eventId: Ulid,
      type: Type.Literal(type),
      schemaVersion: Type.Literal(SCHEMA_VERSION),
      occurredAt: Timestamp,
      aggregateType: Type.Literal(entry.aggregateType),
      aggregateId: AccountId,
      payload: entry.payload,
    },
    { $id: type, title: type, additionalProperties: false },
  );
}

/** Full envelope schema for each event type, as published on Kafka. */
export const envelopeSchemas = {
  AccountCreated: envelopeOf("AccountCreated"),
  FundsDeposited: envelopeOf("FundsDeposited"),
  PaymentAuthorized: envelopeOf("PaymentAuthorized"),
  PaymentDeclined: envelopeOf("PaymentDeclined"),
  PaymentCaptured: envelopeOf("PaymentCaptured"),
  PaymentVoided: envelopeOf("PaymentVoided"),
  PaymentExpired: envelopeOf("PaymentExpired"),
  PaymentRefunded: envelopeOf("PaymentRefunded"),
  FundsWithdrawn: envelopeOf("FundsWithdrawn"),
  PaymentRefundDeclined: envelopeOf("PaymentRefundDeclined"),
  FundsWithdrawalDeclined: envelopeOf("FundsWithdrawalDeclined"),
  AccountUpdated: envelopeOf("AccountUpdated"),
  AccountClosed: envelopeOf("AccountClosed"),
  PaymentUpdated: envelopeOf("PaymentUpdated"),
};

/**
 * What the relay publishes on the dead-letter topic when an event could not be delivered after the
 * configured attempts. `event` is the exact message value that was refused (the envelope as JSON
 * text), cut to `DEAD_LETTER_MAX_EVENT_BYTES` when it was itself too large to publish: an event that
 * is dead because of its size would otherwise make its dead-letter record undeliverable too.
 */
export const DeadLetterRecord = Type.Object(
  {
    eventId: Ulid,
    eventType: Type.String({ minLength: 1 }),
    aggregateType: Type.String({ minLength: 1 }),
    aggregateId: Type.String({ minLength: 1 }),
    /** The topic the event was meant for. */
    topic: Type.String({ minLength: 1 }),
    attempts: Type.Integer({ minimum: 1 }),
    lastError: Type.String(),
    /** When the outbox row was written and when it was given up on. */
    createdAt: Timestamp,
    deadAt: Timestamp,
    event: Type.String(),
    eventBytes: Type.Integer({ minimum: 0, description: "Size of the whole original value in bytes" }),
    truncated: Type.Boolean(),
  },
  { $id: "DeadLetter", title: "DeadLetter", additionalProperties: false },
);

export type DeadLetter = Static<typeof DeadLetterRecord>;

/** Largest original event embedded whole in a dead-letter record (well under Kafka's 1 MB). */
export const DEAD_LETTER_MAX_EVENT_BYTES = 256 * 1024;

/** Every schema published as schemas/<slug>.json, by name. */
export const publishedSchemas = { ...envelopeSchemas, DeadLetter: DeadLetterRecord };

/** "PaymentAuthorized" -> "payment-authorized": the name used for schema files and topics. */
export function typeSlug(type: string): string {
  return type.replace(/([a-z])([A-Z])/g, "$1-$2").toLowerCase();
}

export type EventEnvelope<T extends EventType = EventType> = {
  [K in T]: Static<(typeof envelopeSchemas)[K]>;
}[T];
