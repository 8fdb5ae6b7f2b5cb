/** grpc.health.v1.Health over the health monitor: Check, List and the streaming Watch. */
import type { ServiceImpl } from "@connectrpc/connect";
import { catalogueError, EdgeErrorCode, excerpt } from "../api/error-catalogue.js";
import type { Health } from "../../gen/grpc/health/v1/health_pb.js";
import { ServingStatus, type HealthMonitor } from "./health-monitor.js";

export function healthServiceHandlers(monitor: HealthMonitor): ServiceImpl<typeof Health> {
  return {
    check(request) {
      const status = monitor.status(request.service);
      if (status === undefined) throw catalogueError(EdgeErrorCode.UNKNOWN_HEALTH_SERVICE, `unknown service "${excerpt(request.service)}"`);
      return { status };
    },

    list() {
      return {
        statuses: Object.fromEntries(monitor.serviceNames().map((name) => [name, { status: monitor.status(name) }])),
      };
    },

    // Sends the current status, then each change. Draining ends the stream after NOT_SERVING has
    // been sent, so that watchers learn of the shutdown and do not hold the server open.
    async *watch(request, context) {
      let last: ServingStatus | undefined;
      for (;;) {
        const changed = monitor.nextChange(context.signal);
        const status = monitor.status(request.service) ?? ServingStatus.SERVICE_UNKNOWN;
        if (status !== last) yield { status };
        last = status;
        if (monitor.draining || context.signal.aborted) return;
        await changed;
      }
    },
  };
}
