/**
 * The RPC system of a request by its content type, as the `rpc.system.name` label of metrics:
 * `grpc_web` for gRPC-Web (application/grpc-web, +proto, +json, -text), `grpc` for gRPC,
 * `connectrpc` for everything else (Connect unary and streaming).
 */
export function rpcSystemOf(contentType: string): "grpc" | "grpc_web" | "connectrpc" {
  if (contentType.startsWith("application/grpc-web")) return "grpc_web";
  if (contentType.startsWith("application/grpc")) return "grpc";
  return "connectrpc";
}
