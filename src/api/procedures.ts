/**
 * The API's services and the one way a procedure is named ("package.Service/Method", as Connect
 * and gRPC put it in the URL path). Everything that lists the API (routes, health, reflection,
 * rate limits, scopes) or names a procedure (logs, metrics, limits) takes it from here.
 */
import type { DescMethod, DescService } from "@bufbuild/protobuf";
import { AccountService } from "../../gen/payment/v1/account_pb.js";
import { AdminService } from "../../gen/payment/v1/admin_pb.js";
import { PaymentService } from "../../gen/payment/v1/payment_pb.js";

/** Every service of the payment API (not health or reflection). */
export const API_SERVICES: readonly DescService[] = [AccountService, PaymentService, AdminService];

/** "payment.v1.PaymentService/AuthorizePayment". */
export function procedureOf(service: Pick<DescService, "typeName">, method: Pick<DescMethod, "name">): string {
  return `${service.typeName}/${method.name}`;
}

/** The full name of every API procedure. */
export const API_PROCEDURES: readonly string[] = API_SERVICES.flatMap((service) =>
  service.methods.map((method) => procedureOf(service, method)),
);
