/** Connect handlers of payment.v1.AdminService: operator calls, all behind the admin scope. */
import type { ServiceImpl } from "@connectrpc/connect";
import type { AdminService } from "../../gen/payment/v1/admin_pb.js";
import type { Ledger } from "../ledger/ledger.js";
import { readConsistencyOf } from "./recent-writes.js";

export function adminServiceHandlers(ledger: Ledger): ServiceImpl<typeof AdminService> {
  return {
    async verifyLedger(_request, context) {
      return ledger.verify(readConsistencyOf(context));
    },
  };
}
