/**
 * The framework floor: what a single Connect payment costs the service's process before any of the
 * ledger's own work (issue 17, item 6). A process of the same node arguments as `npm start` serves
 * AuthorizePayment with an answer built from the request and nothing else: no authentication, rate
 * limit, validation, database or events. Two stacks:
 *
 * - `fastify-connect`: Fastify with @connectrpc/connect-fastify and the generated PaymentService,
 *   the stack the product's design fixes (README, "Architecture");
 * - `node-http`: node:http alone, reading the body and answering JSON: the runtime's own share.
 *
 * Answers are held as the service holds them: one "batch" in flight, the requests that arrived
 * meanwhile answered together when it "commits" (a timer of `commitMs`), so that closed-loop clients
 * arrive in groups as they do against the real batcher; a timer per request would spread arrivals
 * out and charge the floor wake-ups the service does not pay. `npm run bench` picks `commitMs` so
 * that the floor runs at the single Connect row's rate (see floorCommitMs).
 *
 * `tsx scripts/bench/framework-floor.ts serve <stack>` runs a floor process (PORT, COMMIT_MS).
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import http from "node:http";
import { fileURLToPath } from "node:url";
import { freePort, serviceNodeArgs } from "../../test/support/process.js";
import { untilReady } from "./service-process.js";

export type FloorStack = "fastify-connect" | "node-http";
export const FLOOR_STACKS: FloorStack[] = ["fastify-connect", "node-http"];

/** A running floor process, shaped like the service for runServiceWorkload. */
export interface FloorProcess {
  pid: number;
  baseUrl: string;
  apiKey: string;
  stop(): Promise<void>;
}

/**
 * The commit delay that puts `clients` closed loops at `tps` payments/s: with one batch in flight
 * a request waits for the batch before it and its own, about two commits.
 */
export function floorCommitMs(clients: number, tps: number): number {
  return Math.max(1, Math.round((clients / (2 * tps)) * 1000));
}

/** Starts a floor process of `stack` on a free port; resolves once it answers. */
export async function startFloor(stack: FloorStack, commitMs: number, env: Record<string, string> = {}): Promise<FloorProcess> {
  const port = await freePort();
  const nodeArgs = serviceNodeArgs().filter((arg) => arg.startsWith("--"));
  const child = spawn(process.execPath, [...nodeArgs, "--import", "tsx", fileURLToPath(import.meta.url), "serve", stack], {
    env: { ...process.env, ...env, PORT: String(port), COMMIT_MS: String(commitMs) },
    stdio: ["ignore", "inherit", "inherit"],
  });
  if (!(await untilReady(port, child, 30_000))) {
    child.kill("SIGKILL");
    throw new Error(`floor ${stack} did not start (exit ${child.exitCode})`);
  }
  return {
    pid: child.pid!,
    baseUrl: `http://127.0.0.1:${port}`,
    apiKey: "",
    async stop() {
      if (child.exitCode !== null) return;
      child.kill("SIGTERM");
      await once(child, "exit");
    },
  };
}

/** One batch in flight: a request's answer waits for the commit of the batch it joins. */
function batcher(commitMs: number): () => Promise<void> {
  let waiting: (() => void)[] = [];
  let inFlight = false;
  const flush = () => {
    if (inFlight || waiting.length === 0) return;
    const batch = waiting;
    waiting = [];
    inFlight = true;
    setTimeout(() => {
      inFlight = false;
      for (const resolve of batch) resolve();
      flush();
    }, commitMs);
  };
  return () =>
    new Promise<void>((resolve) => {
      waiting.push(resolve);
      flush();
    });
}

interface PaymentRequest {
  payerAccountId: string;
  payeeAccountId: string;
  amountCents: bigint | string;
  currency: string;
  description: string;
}

let paymentSeq = 0;
/** The fields of the payment the service would answer with (its proto3 JSON names). */
function paymentOf(request: PaymentRequest) {
  paymentSeq += 1;
  return {
    paymentId: `01JFLOOR${String(paymentSeq).padStart(18, "0")}`,
    payerAccountId: request.payerAccountId,
    payeeAccountId: request.payeeAccountId,
    amountCents: BigInt(request.amountCents),
    currency: request.currency,
    description: request.description,
    createdAt: new Date(),
  };
}

async function serve(stack: FloorStack, port: number, commitMs: number): Promise<void> {
  const committed = batcher(commitMs);
  if (stack === "node-http") {
    const server = http.createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on("data", (chunk: Buffer) => chunks.push(chunk));
      request.on("end", () => {
        if (request.url === "/readyz") return void response.end("ok");
        const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as PaymentRequest;
        void committed().then(() => {
          const { amountCents, createdAt, ...payment } = paymentOf(body);
          const json = { ...payment, amountCents: String(amountCents), status: "PAYMENT_STATUS_AUTHORIZED", createdAt: createdAt.toISOString() };
          const payload = JSON.stringify({ payment: json });
          response.writeHead(200, { "content-type": "application/json" }).end(payload);
        });
      });
    });
    server.listen(port, "127.0.0.1");
    return;
  }
  const { default: Fastify } = await import("fastify");
  const { fastifyConnectPlugin } = await import("@connectrpc/connect-fastify");
  const { create } = await import("@bufbuild/protobuf");
  const { timestampFromDate } = await import("@bufbuild/protobuf/wkt");
  const { PaymentService, PaymentSchema, PaymentStatus } = await import("../../gen/payment/v1/payment_pb.js");
  const app = Fastify({ logger: false });
  // /readyz as the service has it, so that startFloor waits for it as startService does.
  app.get("/readyz", (_request, reply) => void reply.send("ok"));
  await app.register(fastifyConnectPlugin, {
    routes(router) {
      router.rpc(PaymentService.method.authorizePayment, async (request) => {
        await committed();
        const { createdAt, ...payment } = paymentOf(request);
        return { payment: create(PaymentSchema, { ...payment, status: PaymentStatus.AUTHORIZED, createdAt: timestampFromDate(createdAt) }) };
      });
    },
  });
  await app.listen({ port, host: "127.0.0.1" });
}

if (process.argv[2] === "serve") {
  const stack = process.argv[3] as FloorStack;
  if (!FLOOR_STACKS.includes(stack)) throw new Error(`unknown floor stack ${stack}: one of ${FLOOR_STACKS.join(", ")}`);
  process.once("SIGTERM", () => process.exit(0));
  await serve(stack, Number(process.env.PORT), Number(process.env.COMMIT_MS ?? 5));
}
