/** Real Connect clients for every protocol the server speaks. */
import { createClient, type Client, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { AccountService } from "../../gen/payment/v1/account_pb.js";
import { PaymentService } from "../../gen/payment/v1/payment_pb.js";

export interface LedgerClients {
  accounts: Client<typeof AccountService>;
  payments: Client<typeof PaymentService>;
}

/** The transports a backend or browser client may use, by name. */
export function transports(baseUrl: string): Record<string, Transport> {
  return {
    "connect-json-http1": createConnectTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: false }),
    "connect-binary-http2": createConnectTransport({ baseUrl, httpVersion: "2", useBinaryFormat: true }),
    "grpc-http2": createGrpcTransport({ baseUrl }),
    "grpc-web-http1": createGrpcWebTransport({ baseUrl, httpVersion: "1.1" }),
  };
}

export function ledgerClients(transport: Transport): LedgerClients {
  return { accounts: createClient(AccountService, transport), payments: createClient(PaymentService, transport) };
}
