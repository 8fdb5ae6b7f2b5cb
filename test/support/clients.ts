/** Real Connect clients for every protocol the server speaks. */
import { createClient, type Client, type Interceptor, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { AccountService } from "../../gen/payment/v1/account_pb.js";
import { PaymentService } from "../../gen/payment/v1/payment_pb.js";

export interface LedgerClients {
  accounts: Client<typeof AccountService>;
  payments: Client<typeof PaymentService>;
}

/** The transports a backend or browser client may use, by name. */
export function transports(baseUrl: string, apiKey?: string): Record<string, Transport> {
  const interceptors = apiKey ? [bearer(apiKey)] : [];
  return {
    "connect-json-http1": createConnectTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: false, interceptors }),
    "connect-binary-http2": createConnectTransport({ baseUrl, httpVersion: "2", useBinaryFormat: true, interceptors }),
    "grpc-http2": createGrpcTransport({ baseUrl, interceptors }),
    "grpc-web-http1": createGrpcWebTransport({ baseUrl, httpVersion: "1.1", interceptors }),
  };
}

/** Sends `Authorization: Bearer <key>` with every call. */
export function bearer(apiKey: string): Interceptor {
  return (next) => (request) => {
    request.header.set("authorization", `Bearer ${apiKey}`);
    return next(request);
  };
}

export function ledgerClients(transport: Transport): LedgerClients {
  return { accounts: createClient(AccountService, transport), payments: createClient(PaymentService, transport) };
}
