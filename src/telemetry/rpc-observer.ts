/**
 * The outermost interceptor: one structured log line and one duration sample per RPC, plus the
 * business counter of payment outcomes. It sees calls after the error mapping, so it records the
 * code the client received, and after authentication, so it knows the client.
 *
 * Metric names and attributes follow the OpenTelemetry RPC semantic conventions:
 * `rpc.server.call.duration` (seconds) by `rpc.system.name`, `rpc.method` and `rpc.status_code`.
 */
import { randomBytes } from "node:crypto";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import type { Meter } from "@opentelemetry/api";
import {
  DeclineReason,
  PaymentService,
  PaymentStatus,
  type AuthorizePaymentResponse,
  type AuthorizePaymentsResponse,
  type Payment,
} from "../../gen/payment/v1/payment_pb.js";
import { clientIdKey, requestIdKey, traceparentKey } from "../api/request-context.js";
import type { Logger } from "./logger.js";

const TRACEPARENT = /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/;
const AUTHORIZE = `${PaymentService.typeName}/${PaymentService.method.authorizePayment.name}`;
const AUTHORIZE_MANY = `${PaymentService.typeName}/${PaymentService.method.authorizePayments.name}`;

/** "RESOURCE_EXHAUSTED" for Code.ResourceExhausted, as gRPC spells status codes. */
function statusName(code: Code | undefined): string {
  return code === undefined ? "OK" : Code[code].replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase();
}

/**
 * The caller's W3C trace context, or a new one starting a trace here, so that every log line and
 * every event the request causes carries a trace id.
 */
function traceparentOf(header: string | null): { traceparent: string; traceId: string } {
  const traceId = header ? TRACEPARENT.exec(header)?.[1] : undefined;
  if (traceId) return { traceparent: header!, traceId };
  const fresh = randomBytes(16).toString("hex");
  return { traceparent: `00-${fresh}-${randomBytes(8).toString("hex")}-01`, traceId: fresh };
}

export function rpcObserver(meter: Meter, logger: Logger): Interceptor {
  const duration = meter.createHistogram("rpc.server.call.duration", {
    unit: "s",
    description: "Duration of RPCs handled by this server, until the response (or first message) is sent",
    advice: { explicitBucketBoundaries: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] },
  });
  const payments = meter.createCounter("ledger.payments", {
    description: "Payments authorized or declined, by status and decline reason",
  });

  const countPayment = (payment: Payment) =>
    payments.add(1, {
      "payment.status": PaymentStatus[payment.status].replace("PAYMENT_STATUS_", ""),
      "payment.decline_reason": DeclineReason[payment.declineReason].replace("DECLINE_REASON_", ""),
    });

  return (next) => async (request) => {
    const started = performance.now();
    const { traceparent, traceId } = traceparentOf(request.header.get("traceparent"));
    request.contextValues.set(traceparentKey, traceparent);
    const contentType = request.header.get("content-type") ?? "";
    const procedure = `${request.service.typeName}/${request.method.name}`;
    let code: Code | undefined;
    try {
      const response = await next(request);
      if (procedure === AUTHORIZE && !response.stream) {
        const payment = (response.message as AuthorizePaymentResponse).payment;
        if (payment) countPayment(payment);
      } else if (procedure === AUTHORIZE_MANY && !response.stream) {
        for (const { outcome } of (response.message as AuthorizePaymentsResponse).outcomes) {
          if (outcome.case === "payment") countPayment(outcome.value);
        }
      }
      return response;
    } catch (error) {
      code = ConnectError.from(error).code;
      throw error;
    } finally {
      const seconds = (performance.now() - started) / 1000;
      const status = statusName(code);
      duration.record(seconds, {
        "rpc.system.name": contentType.startsWith("application/grpc") ? "grpc" : "connectrpc",
        "rpc.method": procedure,
        "rpc.status_code": status,
      });
      logger.info(
        {
          requestId: request.contextValues.get(requestIdKey),
          traceId,
          clientId: request.contextValues.get(clientIdKey),
          procedure,
          protocol: contentType.split(";")[0],
          status,
          durationMs: Math.round(seconds * 100_000) / 100,
        },
        "rpc",
      );
    }
  };
}
