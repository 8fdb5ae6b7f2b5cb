/**
 * What the service knows about its own health: the state of each component it depends on
 * (the database, the outbox relay, ...) and whether it is draining for shutdown. Components
 * report their state; the gRPC health service, /readyz and watchers read and follow it.
 */
import { HealthCheckResponse_ServingStatus as ServingStatus } from "../../gen/grpc/health/v1/health_pb.js";

export { ServingStatus };

/**
 * How a component tells the service whether it can do its job. The relay reports through this:
 * `health.report("relay", connected)`.
 */
export interface HealthReporter {
  report(component: string, serving: boolean): void;
}

/** The whole server, as gRPC health names it. */
export const SERVER = "";

export class HealthMonitor implements HealthReporter {
  private readonly components = new Map<string, boolean>();
  private readonly listeners = new Set<() => void>();
  private isDraining = false;

  /** `services` maps each gRPC service name to the components it cannot work without. */
  constructor(private readonly services: Record<string, readonly string[]>) {}

  report(component: string, serving: boolean): void {
    if (this.components.get(component) === serving) return;
    this.components.set(component, serving);
    this.notify();
  }

  /** From now on every service is NOT_SERVING: shutdown has begun. */
  drain(): void {
    if (this.isDraining) return;
    this.isDraining = true;
    this.notify();
  }

  get draining(): boolean {
    return this.isDraining;
  }

  /** Service names known to health checks, the server as a whole ("") included. */
  serviceNames(): string[] {
    return [SERVER, ...Object.keys(this.services)];
  }

  /**
   * The status of a service, undefined when it is unknown. The server as a whole needs every
   * reported component; a service needs those it was declared with, which must have reported.
   */
  status(service: string): ServingStatus | undefined {
    const needed = service === SERVER ? [...this.components.keys()] : this.services[service];
    if (!needed) return undefined;
    if (this.isDraining) return ServingStatus.NOT_SERVING;
    return needed.every((component) => this.components.get(component) === true) ? ServingStatus.SERVING : ServingStatus.NOT_SERVING;
  }

  /** Every component's last report, for operators (e.g. /readyz). */
  componentStates(): Record<string, boolean> {
    return Object.fromEntries(this.components);
  }

  /** Resolves at the next change of anything, or when `signal` aborts. */
  nextChange(signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        this.listeners.delete(done);
        signal.removeEventListener("abort", done);
        resolve();
      };
      this.listeners.add(done);
      signal.addEventListener("abort", done, { once: true });
    });
  }

  private notify(): void {
    for (const listener of [...this.listeners]) listener();
  }
}
