/**
 * Services every caller may use without a key and without counting against rate limits: probes
 * and tools (load balancers, `buf curl`, grpcurl) call them before they could know any key.
 */
import { Health } from "../../gen/grpc/health/v1/health_pb.js";
import { ServerReflection as ReflectionV1 } from "../../gen/grpc/reflection/v1/reflection_pb.js";
import { ServerReflection as ReflectionV1alpha } from "../../gen/grpc/reflection/v1alpha/reflection_pb.js";

const OPEN = new Set([Health.typeName, ReflectionV1.typeName, ReflectionV1alpha.typeName]);

/** True for the health and reflection services. */
export function isOpenService(typeName: string): boolean {
  return OPEN.has(typeName);
}
