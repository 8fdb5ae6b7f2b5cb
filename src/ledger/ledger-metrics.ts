/**
 * The ledger's business counters. `ledger.payments` counts each payment once, when it is
 * recorded (authorized or declined); an idempotent replay returns the stored payment and is not
 * counted again. Instruments come from the global meter provider at first use, after telemetry
 * has started (the API hands out no-op meters before that).
 */
import { metrics, type Counter } from "@opentelemetry/api";
import { TELEMETRY_SCOPE } from "../telemetry/scope.js";
import type { PaymentRecord } from "./records.js";

let payments: { provider: unknown; counter: Counter } | undefined;

function paymentsCounter(): Counter {
  const provider = metrics.getMeterProvider();
  if (payments?.provider !== provider) {
    const counter = metrics.getMeter(TELEMETRY_SCOPE).createCounter("ledger.payments", {
      description: "Payments recorded (authorized or declined; replays not counted), by status and decline reason",
    });
    payments = { provider, counter };
  }
  return payments.counter;
}

/** Counts a payment that was just recorded (not a replay). */
export function countPayment(payment: Pick<PaymentRecord, "status" | "declineReason">): void {
  paymentsCounter().add(1, {
    "payment.status": payment.status,
    "payment.decline_reason": payment.declineReason ?? "UNSPECIFIED",
  });
}
