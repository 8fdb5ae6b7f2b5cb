/**
 * Plain HTTP probes for load balancers and orchestrators that do not speak gRPC health:
 * GET /healthz is liveness (the process answers), GET /readyz is readiness (the API services can
 * work: database reachable and not draining). The outbox relay does not decide readiness: payments
 * are accepted into the outbox while Kafka is away, and taking every instance out of rotation
 * would turn a broker outage into an API outage. /readyz lists it among the components.
 */
import type { FastifyInstance } from "fastify";
import { ServingStatus, type HealthMonitor } from "./health-monitor.js";

export function registerHttpProbes(app: FastifyInstance, monitor: HealthMonitor, apiServices: readonly string[]): void {
  app.get("/healthz", async () => ({ status: "ok" }));
  app.get("/readyz", async (_request, reply) => {
    const ready = apiServices.every((service) => monitor.status(service) === ServingStatus.SERVING);
    return reply.code(ready ? 200 : 503).send({
      status: ready ? "ready" : "not ready",
      draining: monitor.draining,
      components: monitor.componentStates(),
    });
  });
}
