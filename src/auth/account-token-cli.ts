/**
 * `npm run account-token -- --accounts alice,bob --scopes read,payments:write [--ttl 900]`: mints
 * an account token (AccountService.MintAccountToken) and prints the token alone, for the console
 * or any browser client. The API key is LEDGER_API_KEY, else the embedded default's development key
 * (PGLITE_DATA_DIR/dev-api-key); the service is LEDGER_URL (default http://127.0.0.1:8080).
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { AccountService } from "../../gen/payment/v1/account_pb.js";
import { DEV_KEY_FILE } from "./dev-key.js";

const usage = "usage: npm run account-token -- --accounts <id,id> --scopes <scope,scope> [--ttl <seconds>] (key: LEDGER_API_KEY or the dev key file; service: LEDGER_URL)";
let values: { accounts?: string; scopes?: string; ttl?: string };
try {
  ({ values } = parseArgs({ options: { accounts: { type: "string" }, scopes: { type: "string" }, ttl: { type: "string" } } }));
} catch (error) {
  console.error(`${(error as Error).message}\n${usage}`);
  process.exit(2);
}
const list = (text: string | undefined) => (text ?? "").split(",").map((item) => item.trim()).filter(Boolean);
const ttlSeconds = Number(values.ttl ?? "0");
if (list(values.accounts).length === 0 || list(values.scopes).length === 0 || !Number.isInteger(ttlSeconds)) {
  console.error(usage);
  process.exit(2);
}

const devKeyFile = join(process.env.PGLITE_DATA_DIR || ".data/pglite", DEV_KEY_FILE);
const key = process.env.LEDGER_API_KEY || (existsSync(devKeyFile) ? readFileSync(devKeyFile, "utf8").trim() : "");
if (!key) {
  console.error(`no API key: set LEDGER_API_KEY, or start the embedded default once (it writes ${devKeyFile})`);
  process.exit(2);
}
const baseUrl = process.env.LEDGER_URL || "http://127.0.0.1:8080";
const transport = createConnectTransport({
  baseUrl,
  httpVersion: "1.1",
  interceptors: [(next) => (request) => (request.header.set("authorization", `Bearer ${key}`), next(request))],
});
try {
  const { token } = await createClient(AccountService, transport).mintAccountToken({ accountIds: list(values.accounts), scopes: list(values.scopes), ttlSeconds });
  console.log(token);
} catch (error) {
  console.error(`MintAccountToken at ${baseUrl} failed: ${ConnectError.from(error).message}`);
  process.exit(1);
}
