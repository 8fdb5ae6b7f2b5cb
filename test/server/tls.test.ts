/** TLS with ALPN: the same API over HTTPS, HTTP/2 (gRPC) and HTTP/1.1 (Connect JSON) on one port. */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, it } from "node:test";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { ledgerClients } from "../support/clients.js";
import { startTestService, type TestService } from "../support/service.js";

const dir = mkdtempSync(join(tmpdir(), "ledger-tls-"));
const certFile = join(dir, "cert.pem");
const keyFile = join(dir, "key.pem");
let running: TestService;

before(async () => {
  execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout", keyFile, "-out", certFile], { stdio: "ignore" });
  running = await startTestService({ TLS_CERT_FILE: certFile, TLS_KEY_FILE: keyFile });
});
after(async () => {
  await running.stop();
  rmSync(dir, { recursive: true, force: true });
});

it("serves gRPC over h2 and Connect over HTTP/1.1 with TLS", async () => {
  assert.match(running.url, /^https:/);
  const nodeOptions = { ca: readFileSync(certFile) };
  const grpc = ledgerClients(createGrpcTransport({ baseUrl: running.url, nodeOptions }));
  const json = ledgerClients(createConnectTransport({ baseUrl: running.url, httpVersion: "1.1", nodeOptions }));
  const { account } = await grpc.accounts.createAccount({ currency: "USD", displayName: "tls" });
  const read = await json.accounts.getAccount({ accountId: account!.accountId });
  assert.deepEqual(read.account, account);
});
