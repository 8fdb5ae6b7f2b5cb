/** CORS preflights and responses for browser clients, from allowed and other origins. */
import assert from "node:assert/strict";
import { after, before, it } from "node:test";
import { cors } from "@connectrpc/connect";
import { parseOrigins } from "../../src/server/cors.js";
import { startTestService, type TestService } from "../support/service.js";

const ALLOWED = "https://console.example";
let svc: TestService;

before(async () => {
  svc = await startTestService({ CORS_ORIGINS: `${ALLOWED}, https://other.example/` });
});
after(() => svc.stop());

const preflight = (origin: string) =>
  fetch(`${svc.url}/payment.v1.PaymentService/AuthorizePayment`, {
    method: "OPTIONS",
    headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": "authorization,content-type,x-grpc-web" },
  });

it("a preflight from an allowed origin gets Connect's and the API's headers", async () => {
  const response = await preflight(ALLOWED);
  assert.equal(response.status, 204);
  assert.equal(response.headers.get("access-control-allow-origin"), ALLOWED);
  assert.equal(response.headers.get("vary"), "Origin");
  const allowed = response.headers.get("access-control-allow-headers")!.toLowerCase().split(", ");
  for (const header of [...cors.allowedHeaders.map((h) => h.toLowerCase()), "authorization", "x-request-id", "traceparent"]) {
    assert.ok(allowed.includes(header), `allows ${header}`);
  }
  assert.equal(response.headers.get("access-control-allow-methods"), "POST, GET");
});

it("a preflight from any other origin gets no CORS headers, so the browser refuses", async () => {
  const response = await preflight("https://evil.example");
  assert.equal(response.headers.get("access-control-allow-origin"), null);
  assert.equal(response.headers.get("access-control-allow-headers"), null);
});

it("responses expose the gRPC-Web status, request id and retry headers to allowed origins", async () => {
  const response = await fetch(`${svc.url}/payment.v1.PaymentService/GetAccountBalance`, {
    method: "POST",
    headers: { origin: ALLOWED, "content-type": "application/json" },
    body: JSON.stringify({ accountId: "nobody" }),
  });
  assert.equal(response.headers.get("access-control-allow-origin"), ALLOWED);
  const exposed = response.headers.get("access-control-expose-headers")!.toLowerCase().split(", ");
  for (const header of ["grpc-status", "grpc-message", "x-request-id", "retry-after"]) assert.ok(exposed.includes(header), header);
});

it("CORS_ORIGINS: a list (trailing slashes ignored), * for any, empty for none", () => {
  assert.deepEqual(parseOrigins("https://a.example/, http://b.example:8080"), {
    any: false,
    origins: new Set(["https://a.example", "http://b.example:8080"]),
  });
  assert.deepEqual(parseOrigins("*"), { any: true, origins: new Set() });
  assert.deepEqual(parseOrigins(""), { any: false, origins: new Set() });
});
