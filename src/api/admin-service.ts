/** Connect handlers of payment.v1.AdminService: operator calls, all behind the admin scope. */
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import type { AdminService } from "../../gen/payment/v1/admin_pb.js";
import type { Ledger } from "../ledger/ledger.js";
import { readConsistencyOf } from "./recent-writes.js";

export function adminServiceHandlers(ledger: Ledger): ServiceImpl<typeof AdminService> {
  return {
    async verifyLedger(_request, context) {
      return ledger.verify(readConsistencyOf(context));
    },
    // Issue 21, being built: tenants and audit (tenants branch), keys (keys branch).
    async createTenant() {
      throw new ConnectError("not built yet", Code.Unimplemented);
    },
    async createApiKey() {
      throw new ConnectError("not built yet", Code.Unimplemented);
    },
    async listApiKeys() {
      throw new ConnectError("not built yet", Code.Unimplemented);
    },
    async revokeApiKey() {
      throw new ConnectError("not built yet", Code.Unimplemented);
    },
    async listAuditEvents() {
      throw new ConnectError("not built yet", Code.Unimplemented);
    },
  };
}
