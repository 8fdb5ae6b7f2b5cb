/** Connect handlers of payment.v1.AdminService: operator calls (scopes admin and tenants:admin; docs/tenants.md). */
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import type { AdminService } from "../../gen/payment/v1/admin_pb.js";
import type { Ledger } from "../ledger/ledger.js";
import { readConsistencyOf } from "./recent-writes.js";
import { requestContextOf } from "./request-context.js";

export function adminServiceHandlers(ledger: Ledger): ServiceImpl<typeof AdminService> {
  return {
    async verifyLedger(_request, context) {
      return ledger.verify(readConsistencyOf(context));
    },
    async createTenant(request) {
      const tenant = await ledger.createTenant({ tenantId: request.tenantId, displayName: request.displayName });
      return { tenant: { tenantId: tenant.tenantId, displayName: tenant.displayName, createdAt: timestampFromDate(tenant.createdAt) } };
    },
    // Issue 21, being built on the keys branch.
    async createApiKey() {
      throw new ConnectError("not built yet", Code.Unimplemented);
    },
    async listApiKeys() {
      throw new ConnectError("not built yet", Code.Unimplemented);
    },
    async revokeApiKey() {
      throw new ConnectError("not built yet", Code.Unimplemented);
    },
    async listAuditEvents(request, context) {
      const page = await ledger.listAuditEvents(
        { tenantId: request.tenantId, accountId: request.accountId, pageSize: request.pageSize, pageToken: request.pageToken },
        readConsistencyOf(context),
        requestContextOf(context),
      );
      return {
        events: page.items.map((event) => ({
          auditId: event.auditId.toString(),
          tenantId: event.tenantId,
          clientId: event.clientId ?? "",
          keyId: event.keyId ?? "",
          tokenId: event.tokenId ?? "",
          action: event.action,
          subjectId: event.subjectId,
          accountIds: event.accountIds,
          at: timestampFromDate(event.at),
        })),
        nextPageToken: page.nextPageToken,
      };
    },
  };
}
