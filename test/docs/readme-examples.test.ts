/**
 * The README's examples, run as a reader would run them: every ```sh block that talks to the
 * service (`localhost:8080`), in README order, in one bash session, against `npm start`'s embedded
 * default with its development key in `.data/pglite/dev-api-key`. A block that cannot run to its
 * end by itself (a watch left running) is marked `<!-- readme-test: skip (why) -->`. Each block must
 * run without error: a command failing or a curl answered with a Connect error fails the test.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, it } from "node:test";
import { freePort, spawnService } from "../support/process.js";

interface Block {
  line: number;
  code: string;
}

/** The sh blocks that call the service, dedented (some sit in list items), minus the skipped ones. */
export function serviceBlocks(readme: string): Block[] {
  const blocks: Block[] = [];
  for (const match of readme.matchAll(/^( *)```sh\n([\s\S]*?)^\1```$/gm)) {
    const indent = match[1]!.length;
    const code = match[2]!.split("\n").map((line) => line.slice(Math.min(indent, line.length - line.trimStart().length))).join("\n");
    const before = readme.slice(0, match.index).trimEnd().split("\n").at(-1) ?? "";
    if (!code.includes("localhost:8080") || /<!-- readme-test: skip/.test(before)) continue;
    blocks.push({ line: readme.slice(0, match.index).split("\n").length, code });
  }
  return blocks;
}

const scratch = mkdtempSync(join(tmpdir(), "ledger-readme-"));
after(() => rmSync(scratch, { recursive: true, force: true }));

it("runs every README example against npm start's embedded default, in order, without an error", { timeout: 240_000 }, async () => {
  const blocks = serviceBlocks(readFileSync("README.md", "utf8"));
  assert.ok(blocks.length >= 8, `found ${blocks.length} blocks`);
  // `npx buf` as in the repository: the scratch directory sees its node_modules.
  symlinkSync(resolve("node_modules"), join(scratch, "node_modules"));
  mkdirSync(join(scratch, ".data"));
  const port = await freePort();
  const service = spawnService({ PORT: String(port), PGLITE_DATA_DIR: join(scratch, ".data/pglite") });
  try {
    await service.waitFor(/"msg":"listening/, 120_000);
    const script = [
      "set -e",
      // A curl answered with a Connect error (`{"code":...}`) fails the block; streams pass through.
      `curl() { case "$*" in *connect+json*) command curl "$@"; return ;; esac
        local out; out=$(command curl "$@"); printf '%s\\n' "$out"
        case "$out" in '{"code":'*) echo "README example answered an error: $out" >&2; return 1 ;; esac; }`,
      ...blocks.map((block) => `echo "::block README.md:${block.line}"\n${block.code.replaceAll("localhost:8080", `localhost:${port}`)}`),
      'echo "::done"',
    ].join("\n");
    const bash = spawn("bash", ["-c", script], { cwd: scratch, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    bash.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    bash.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const code = await new Promise<number | null>((done) => bash.once("close", done));
    const failedAt = output.match(/::block (README\.md:\d+)/g)?.at(-1);
    assert.equal(code, 0, `the example at ${failedAt} failed:\n${output.slice(-3_000)}`);
    assert.match(output, /::done/);

    // What the examples promise, as the README states it.
    assert.match(output, /"status":"PAYMENT_STATUS_AUTHORIZED"/, "the first payment is authorized");
    assert.match(output, /"outcomes":\[\{"payment":\{[^\]]*"status":"PAYMENT_STATUS_AUTHORIZED"[\s\S]*"error":\{"status":"invalid_argument","code":"INVALID_ARGUMENT","field":"amount_cents"/, "the batch pays shop and refuses the zero amount");
    assert.match(output, /"status":"PAYMENT_STATUS_CAPTURED"/, "the hold is captured");
    assert.match(output, /"status":"PAYMENT_STATUS_VOIDED"/, "the other hold is voided");
    assert.match(output, /"status":"WITHDRAWAL_STATUS_WITHDRAWN"/, "the payout is made");
    assert.match(output, /"causeKind":"ENTRY_CAUSE_KIND_DEPOSIT"[^\n]*"amountCents":"700"|"amountCents":"700"[^\n]*"causeKind":"ENTRY_CAUSE_KIND_DEPOSIT"/, "the watch over curl shows the deposit");
    assert.match(output, /end of stream: \{\}/, "the curl stream ends cleanly");
    assert.match(output, /"splits":\[\{"payeeAccountId":"shop","amountCents":"4850","capturedCents":"2426"\},\{"payeeAccountId":"platform","amountCents":"150","capturedCents":"75"\}\]/, "the split capture is divided by the rule");
    assert.match(output, /"payeeAccountId": "shop",\s*"amountCents": "4850",\s*"capturedCents": "2426",\s*"refundedCents": "486"/, "buf curl shows the legs after the refund");
    assert.match(output, /\{"outcomes":\[\{"error":\{"status":"aborted","code":"ABORTED","message":"aborted: items\[1\] failed \(declined: INSUFFICIENT_FUNDS\)/, "the atomic batch is aborted");
    assert.match(output, /"message": "aborted: items\[1\] failed \(ACCOUNT_NOT_FOUND\)/, "the atomic payouts over gRPC are aborted");
    assert.match(output, /"ok": ?true/, "the ledger verifies");
    assert.match(output, /"debug": \{\s*"code": "ACCOUNT_NOT_FOUND",\s*"field": "account_id"/, "buf curl's error shows the readable detail");
    assert.match(output, /"payments":\[\{[^\]]*"metadata":\{[^}]*"order_id":"A-1001"/, "the search by metadata finds the order");
    assert.match(output, /"invoice":"INV-7"/, "UpdatePayment replaced the payment's metadata");
    assert.match(output, /"accounts":\[\{"accountId":"carol"[^\]]*"tier":"gold"/, "ListAccounts finds carol by metadata");
    assert.match(output, /"accountId":"carol"[^\n]*"status":"ACCOUNT_STATUS_CLOSED","closedAt":/, "carol is closed");
  } finally {
    await service.stop("SIGTERM");
  }
});
