/** `payment-ledger/client`: the typed client and the generated message types it speaks. */
export * from "./ledger-client.js";
export * from "../../gen/payment/v1/account_pb.js";
export * from "../../gen/payment/v1/payment_pb.js";
export * from "../../gen/payment/v1/common_pb.js";
