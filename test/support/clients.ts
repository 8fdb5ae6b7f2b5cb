/** Real Connect clients for every protocol the server speaks. */
import { createClient, type Client, type Interceptor, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { AccountService } from "../../gen/payment/v1/account_pb.js";
import { AdminService } from "../../gen/payment/v1/admin_pb.js";
import { PaymentService } from "../../gen/payment/v1/payment_pb.js";

export interface LedgerClients {
  accounts: Client<typeof AccountService>;
  payments: Client<typeof PaymentService>;
}

/** Makers of every transport a backend or browser client may use, by name; with a key, they send it. */
export const transportFactories: Record<string, (baseUrl: string, apiKey?: string) => Transport> = {
  "connect-json-http1": (baseUrl, apiKey) =>
    createConnectTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: false, interceptors: bearer(apiKey) }),
  "connect-binary-http2": (baseUrl, apiKey) =>
    createConnectTransport({ baseUrl, httpVersion: "2", useBinaryFormat: true, interceptors: bearer(apiKey) }),
  "grpc-http2": (baseUrl, apiKey) => createGrpcTransport({ baseUrl, interceptors: bearer(apiKey) }),
  "grpc-web-http1": (baseUrl, apiKey) => createGrpcWebTransport({ baseUrl, httpVersion: "1.1", interceptors: bearer(apiKey) }),
};

/** An interceptor sending `Authorization: Bearer <key>`, none without a key. */
function bearer(apiKey: string | undefined): Interceptor[] {
  if (!apiKey) return [];
  return [
    (next) => (request) => {
      request.header.set("authorization", `Bearer ${apiKey}`);
      return next(request);
    },
  ];
}

/** Clients over Connect JSON on HTTP/1.1, the simplest transport. */
export function jsonClients(baseUrl: string, apiKey?: string): LedgerClients {
  return ledgerClients(transportFactories["connect-json-http1"]!(baseUrl, apiKey));
}

export function ledgerClients(transport: Transport): LedgerClients {
  return { accounts: createClient(AccountService, transport), payments: createClient(PaymentService, transport) };
}

/** An AdminService client over Connect JSON on HTTP/1.1, sending `apiKey`. */
export function adminClient(baseUrl: string, apiKey?: string): Client<typeof AdminService> {
  return createClient(AdminService, transportFactories["connect-json-http1"]!(baseUrl, apiKey));
}
