/**
 * Authenticates every API call by its bearer credential and checks the scope its method needs.
 * The credential is an API key (configured or stored: key-store.ts) or an account token
 * (account-tokens.ts), told apart by shape (a token has three base64url parts, a key no dot). The
 * client id (a token's: its minting key's) becomes the request's `clientIdKey`, which scopes
 * idempotency keys and rate limits; its tenant, key id and, for a token, token id and accounts the
 * request's `callerKey`, which confines every call; the credential itself `credentialKey`
 * (MintAccountToken reads the key's scopes there). A token is also held to its accounts
 * (token-boundary.ts). Unknown methods are refused: a new RPC must be given a scope here to be
 * callable.
 */
import type { DescMethod } from "@bufbuild/protobuf";
import type { Interceptor, StreamRequest, UnaryRequest } from "@connectrpc/connect";
import { AccountService } from "../../gen/payment/v1/account_pb.js";
import { AdminService } from "../../gen/payment/v1/admin_pb.js";
import { PaymentService } from "../../gen/payment/v1/payment_pb.js";
import type { Credential } from "../api/access.js";
import { AccessErrorCode, catalogueError, EdgeErrorCode } from "../api/error-catalogue.js";
import { procedureOf } from "../api/procedures.js";
import { callerKey, clientIdKey, credentialKey } from "../api/request-context.js";
import { databaseUnavailable } from "../ledger/ledger-error.js";
import type { Caller } from "../ledger/records.js";
import { looksLikeToken, type AccountTokens } from "./account-tokens.js";
import { hashApiKey, type Scope } from "./api-keys.js";
import { configuredKeyRef, NOT_LOADED, type KeyStore } from "./key-store.js";
import { isOpenService } from "./open-services.js";
import type { TokenBoundary } from "./token-boundary.js";

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
  // Any key that reads may mint: a token gets a subset of its key's scopes and only accounts of
  // its key's tenant, so minting grants nothing the key could not do itself. Tokens never mint.
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

const BEARER = /^Bearer ([\x21-\x7e]{1,12288})$/;
/** The one answer to every token that is not accepted: which check failed is not said. */
const INVALID_TOKEN = "invalid account token";

/** Most API keys whose resolution is kept at once; beyond it the cache starts over. */
const MAX_RESOLVED_KEYS = 1_000;

interface Resolved {
  credential: Credential;
  caller: Caller;
}

/**
 * API keys resolved since the key store last changed, by the presented key: hashing the key and
 * looking its grant up is then done once per key, not per request. Any applied read of the stored
 * keys (a NOTIFY of a created or revoked key, the reload on reconnect, the periodic reload) bumps
 * the store's generation and empties the cache, so a revocation takes effect exactly as before,
 * and presented keys stay in memory no longer than until the next reload. Only keys that were
 * accepted are kept: unknown ones cannot fill it.
 */
class ResolvedKeys {
  readonly #byKey = new Map<string, Resolved>();
  #generation = -1;

  constructor(private readonly keys: KeyStore) {}

  get(key: string): Resolved | undefined {
    if (this.#generation !== this.keys.generation) {
      this.#byKey.clear();
      this.#generation = this.keys.generation;
      return undefined;
    }
    return this.#byKey.get(key);
  }

  /** Keeps `resolved` under the generation it was looked up in (the current one: lookups are synchronous). */
  set(key: string, resolved: Resolved): void {
    if (this.#generation !== this.keys.generation || this.#byKey.size >= MAX_RESOLVED_KEYS) {
      this.#byKey.clear();
      this.#generation = this.keys.generation;
    }
    this.#byKey.set(key, resolved);
  }
}

export interface AuthSources {
  keys: KeyStore;
  tokens: AccountTokens;
  boundary: TokenBoundary;
}

export function authInterceptor({ keys, tokens, boundary }: AuthSources): Interceptor {
  const resolvedKeys = new ResolvedKeys(keys);
  const authenticate = async (bearer: string): Promise<Resolved> => {
    if (looksLikeToken(bearer)) {
      const claims = await tokens.verify(bearer);
      // The minting key must still be live (revoked: its tokens stop too) and still be that client's.
      const grant = claims && keys.grantOfRef(claims.keyRef);
      if (grant === NOT_LOADED) throw databaseUnavailable();
      if (!claims || !grant || grant.tenantId !== claims.tenantId || grant.clientId !== claims.clientId) {
        throw catalogueError(AccessErrorCode.TOKEN_INVALID, INVALID_TOKEN);
      }
      const scopes = new Set(claims.scopes.filter((scope) => grant.scopes.has(scope)));
      return {
        credential: { kind: "account-token", clientId: grant.clientId, tenantId: grant.tenantId, scopes, keyRef: claims.keyRef },
        caller: { tenantId: grant.tenantId, keyId: grant.keyId ?? null, tokenId: claims.tokenId, accountIds: claims.accountIds },
      };
    }
    // The lookup is by hash: timing reveals nothing about stored keys, and no key is kept with its grant.
    const hash = hashApiKey(bearer);
    const grant = keys.grantOf(hash);
    if (grant === NOT_LOADED) throw databaseUnavailable();
    if (!grant) throw catalogueError(EdgeErrorCode.UNAUTHENTICATED, "invalid API key");
    const resolved: Resolved = Object.freeze({
      credential: Object.freeze({ kind: "api-key", clientId: grant.clientId, tenantId: grant.tenantId, scopes: grant.scopes, keyRef: grant.keyId ?? configuredKeyRef(hash) }),
      caller: Object.freeze({ tenantId: grant.tenantId, keyId: grant.keyId ?? null, tokenId: null, accountIds: null }),
    });
    resolvedKeys.set(bearer, resolved);
    return resolved;
  };

  return (next) => async (request) => {
    if (isOpenService(request.service.typeName)) return next(request);
    const header = request.header.get("authorization");
    if (!header) {
      throw catalogueError(EdgeErrorCode.UNAUTHENTICATED, "missing API key: send the header Authorization: Bearer <key>");
    }
    const bearer = BEARER.exec(header)?.[1];
    if (!bearer) throw catalogueError(EdgeErrorCode.UNAUTHENTICATED, "malformed Authorization header: expected Bearer <key>");
    const { credential, caller } = resolvedKeys.get(bearer) ?? (await authenticate(bearer));

    const procedure = procedureOf(request.service, request.method);
    const scope = requiredScope(procedure);
    if (!scope || !credential.scopes.has(scope)) {
      const who = credential.kind === "api-key" ? `client ${credential.clientId}` : `the account token of client ${credential.clientId}`;
      throw catalogueError(
        EdgeErrorCode.PERMISSION_DENIED,
        scope ? `${who} lacks scope ${scope} required by ${procedure}` : `${procedure} is not open to API keys`,
      );
    }
    request.contextValues.set(clientIdKey, credential.clientId);
    request.contextValues.set(callerKey, caller);
    request.contextValues.set(credentialKey, credential);
    if (!caller.accountIds) return next(request);
    return next(await withinToken(request, procedure, caller.accountIds, boundary)).then(async (response) => {
      if (!response.stream) boundary.checkAnswer(response.message, caller.accountIds!);
      return response;
    });
  };
}

/** The request, held to the token's accounts: checked now (unary) or as its messages are read (streams). */
async function withinToken<R extends UnaryRequest | StreamRequest>(request: R, procedure: string, accountIds: readonly string[], boundary: TokenBoundary): Promise<R> {
  if (!request.stream) {
    await boundary.check(procedure, request.message, accountIds);
    return request;
  }
  const messages = request.message;
  async function* checked() {
    for await (const message of messages) {
      await boundary.check(procedure, message, accountIds);
      yield message;
    }
  }
  return { ...request, message: checked() };
}
