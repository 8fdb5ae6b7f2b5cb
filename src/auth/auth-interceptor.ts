/**
 * Authenticates every API call by its bearer key and checks the scope its method needs. The
 * client id of the key becomes the request's `clientIdKey`, which scopes idempotency keys and
 * rate limits; its tenant (and key id) the request's `callerKey`, which confines every call. Unknown methods are refused: a new RPC must be given a scope here to be callable.
 */
import type { DescMethod } from "@bufbuild/protobuf";
import type { Interceptor } from "@connectrpc/connect";
import { AccountService } from "../../gen/payment/v1/account_pb.js";
import { AdminService } from "../../gen/payment/v1/admin_pb.js";
import { PaymentService } from "../../gen/payment/v1/payment_pb.js";
import { catalogueError, EdgeErrorCode } from "../api/error-catalogue.js";
import { procedureOf } from "../api/procedures.js";
import { callerKey, clientIdKey } from "../api/request-context.js";
import { hashApiKey, type ApiKeyGrant, type Scope } from "./api-keys.js";
import { isOpenService } from "./open-services.js";

const scopeOf: [DescMethod, Scope][] = [
  [AccountService.method.createAccount, "accounts:write"],
  [AccountService.method.depositFunds, "accounts:write"],
  [AccountService.method.getAccount, "read"],
  [PaymentService.method.authorizePayment, "payments:write"],
  [PaymentService.method.getPayment, "read"],
  [PaymentService.method.getAccountBalance, "read"],
  [PaymentService.method.listPayments, "read"],
  [AccountService.method.listAccounts, "read"],
  [AccountService.method.listAccountEntries, "read"],
  [AdminService.method.verifyLedger, "admin"],
  [AccountService.method.watchAccount, "read"],
  [PaymentService.method.watchPayments, "read"],
  [PaymentService.method.capturePayment, "payments:write"],
  [PaymentService.method.voidPayment, "payments:write"],
  [PaymentService.method.refundPayment, "payments:write"],
  [AccountService.method.withdrawFunds, "accounts:write"],
  [AccountService.method.updateAccount, "accounts:admin"],
  [PaymentService.method.authorizePayments, "payments:write"],
  [PaymentService.method.capturePayments, "payments:write"],
  [PaymentService.method.refundPayments, "payments:write"],
  [AccountService.method.withdrawFundsBatch, "accounts:write"],
  [AccountService.method.closeAccount, "accounts:write"],
  [PaymentService.method.updatePayment, "payments:write"],
  [AccountService.method.mintAccountToken, "read"],
  [AdminService.method.createTenant, "tenants:admin"],
  [AdminService.method.createApiKey, "tenants:admin"],
  [AdminService.method.listApiKeys, "tenants:admin"],
  [AdminService.method.revokeApiKey, "tenants:admin"],
  [AdminService.method.listAuditEvents, "admin"],
];
const requiredScopes = new Map(scopeOf.map(([method, scope]) => [procedureOf(method.parent, method), scope]));

/** The scope a procedure ("package.Service/Method") requires, undefined when none is assigned. */
export function requiredScope(procedure: string): Scope | undefined {
  return requiredScopes.get(procedure);
}

const BEARER = /^Bearer ([\x21-\x7e]{1,512})$/;

/** `grants` maps key hashes to what they grant (see api-keys.ts). */
export function authInterceptor(grants: ReadonlyMap<string, ApiKeyGrant>): Interceptor {
  return (next) => async (request) => {
    if (isOpenService(request.service.typeName)) return next(request);
    const header = request.header.get("authorization");
    if (!header) {
      throw catalogueError(EdgeErrorCode.UNAUTHENTICATED, "missing API key: send the header Authorization: Bearer <key>");
    }
    const token = BEARER.exec(header)?.[1];
    if (!token) throw catalogueError(EdgeErrorCode.UNAUTHENTICATED, "malformed Authorization header: expected Bearer <key>");
    // The lookup is by hash: timing reveals nothing about stored keys, and no key is kept in memory.
    const grant = grants.get(hashApiKey(token));
    if (!grant) throw catalogueError(EdgeErrorCode.UNAUTHENTICATED, "invalid API key");

    const procedure = procedureOf(request.service, request.method);
    const scope = requiredScope(procedure);
    if (!scope || !grant.scopes.has(scope)) {
      throw catalogueError(
        EdgeErrorCode.PERMISSION_DENIED,
        scope ? `client ${grant.clientId} lacks scope ${scope} required by ${procedure}` : `${procedure} is not open to API keys`,
      );
    }
    request.contextValues.set(clientIdKey, grant.clientId);
    request.contextValues.set(callerKey, { tenantId: grant.tenantId, keyId: grant.keyId ?? null, tokenId: null, accountIds: null });
    return next(request);
  };
}
