/**
 * Connect handlers of payment.v1.AdminService: operator calls (VerifyLedger, ListAuditEvents: scope
 * admin; tenants and keys: scope tenants:admin, see auth-interceptor.ts).
 */
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import { ApiKeySchema, type AdminService, type ApiKey } from "../../gen/payment/v1/admin_pb.js";
import type { Ledger } from "../ledger/ledger.js";
import type { ApiKeyManagement, ApiKeyRecord } from "./access.js";
import { readConsistencyOf } from "./recent-writes.js";

export function adminServiceHandlers(ledger: Ledger, keys: ApiKeyManagement): ServiceImpl<typeof AdminService> {
  return {
    async verifyLedger(_request, context) {
      return ledger.verify(readConsistencyOf(context));
    },
    // Issue 21, being built: tenants and audit (tenants branch).
    async createTenant() {
      throw new ConnectError("not built yet", Code.Unimplemented);
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
    async listAuditEvents() {
      throw new ConnectError("not built yet", Code.Unimplemented);
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
