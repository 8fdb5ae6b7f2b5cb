/** Registers every Connect service of the API on a router. */
import type { ConnectRouter } from "@connectrpc/connect";
import { AccountService } from "../../gen/payment/v1/account_pb.js";
import { AdminService } from "../../gen/payment/v1/admin_pb.js";
import { PaymentService } from "../../gen/payment/v1/payment_pb.js";
import type { Ledger } from "../ledger/ledger.js";
import type { Access } from "./access.js";
import { accountServiceHandlers } from "./account-service.js";
import { adminServiceHandlers } from "./admin-service.js";
import { paymentServiceHandlers } from "./payment-service.js";

/** `access`: API key management and account tokens (src/auth, wired by the server). */
export function apiRoutes(ledger: Ledger, access: Access): (router: ConnectRouter) => void {
  return (router) => {
    router.service(AccountService, accountServiceHandlers(ledger, access.tokens));
    router.service(PaymentService, paymentServiceHandlers(ledger));
    router.service(AdminService, adminServiceHandlers(ledger, access.keys));
  };
}
