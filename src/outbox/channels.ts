/**
 * The NOTIFY channel that wakes relays when outbox rows were committed (src/ledger/change-notifier.ts
 * sends it after each batch; src/relay/wakeup.ts listens). Notifications are hints: relays also poll.
 */
export const OUTBOX_CHANNEL = "outbox_inserted";
