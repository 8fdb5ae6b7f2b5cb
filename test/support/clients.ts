/** Real Connect clients for every protocol the server speaks. */
import { createClient, type Client, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { AccountService } from "../../gen/payment/v1/account_pb.js";
import { PaymentService } from "../../gen/payment/v1/payment_pb.js";

export interface LedgerClients {
  accounts: Client<typeof AccountService>;
  payments: Client<typeof PaymentService>;
}

/** Makers of every transport a backend or browser client may use, by name. */
export const transportFactories: Record<string, (baseUrl: string) => Transport> = {
  "connect-json-http1": (baseUrl) => createConnectTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: false }),
  "connect-binary-http2": (baseUrl) => createConnectTransport({ baseUrl, httpVersion: "2", useBinaryFormat: true }),
  "grpc-http2": (baseUrl) => createGrpcTransport({ baseUrl }),
  "grpc-web-http1": (baseUrl) => createGrpcWebTransport({ baseUrl, httpVersion: "1.1" }),
};

/** Clients over Connect JSON on HTTP/1.1, the simplest transport. */
export function jsonClients(baseUrl: string): LedgerClients {
  return ledgerClients(transportFactories["connect-json-http1"]!(baseUrl));
}

export function ledgerClients(transport: Transport): LedgerClients {
  return { accounts: createClient(AccountService, transport), payments: createClient(PaymentService, transport) };
}
