/**
 * Connect handlers of payment.v1.AdminService: operator calls (VerifyLedger, ListAuditEvents: scope
 * admin; tenants and keys: scope tenants:admin, see auth-interceptor.ts; docs/tenants.md).
 */
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import { ApiKeySchema, type AdminService, type ApiKey } from "../../gen/payment/v1/admin_pb.js";
import type { Ledger } from "../ledger/ledger.js";
import type { ApiKeyManagement, ApiKeyRecord } from "./access.js";
import { readConsistencyOf } from "./recent-writes.js";
import { requestContextOf } from "./request-context.js";

export function adminServiceHandlers(ledger: Ledger, keys: ApiKeyManagement): ServiceImpl<typeof AdminService> {
  return {
    async verifyLedger(_request, context) {
      return ledger.verify(readConsistencyOf(context));
    },
    async createTenant(request) {
      const tenant = await ledger.createTenant({ tenantId: request.tenantId, displayName: request.displayName });
      return { tenant: { tenantId: tenant.tenantId, displayName: tenant.displayName, createdAt: timestampFromDate(tenant.createdAt) } };
    },
    async createApiKey(request) {
      const { key, record } = await keys.create({ tenantId: request.tenantId, clientId: request.clientId, scopes: request.scopes });
      return { keyId: record.keyId, key, apiKey: apiKeyToProto(record) };
    },
    async listApiKeys(request) {
      const page = await keys.list({ tenantId: request.tenantId, pageSize: request.pageSize, pageToken: request.pageToken });
      return { apiKeys: page.items.map(apiKeyToProto), nextPageToken: page.nextPageToken };
    },
    async revokeApiKey(request) {
      return { apiKey: apiKeyToProto(await keys.revoke(request.keyId)) };
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

function apiKeyToProto(record: ApiKeyRecord): ApiKey {
  return create(ApiKeySchema, {
    keyId: record.keyId,
    tenantId: record.tenantId,
    clientId: record.clientId,
    scopes: record.scopes,
    createdAt: timestampFromDate(record.createdAt),
    revokedAt: record.revokedAt ? timestampFromDate(record.revokedAt) : undefined,
  });
}
