/**
 * A fuzz of bearer tokens against the real server: random bytes, random JWT-shaped strings, and
 * crafted near-misses (alg none, other algorithms, HS256 keyed with a public key, wrong audience or
 * issuer, expired, not yet valid, tampered, unknown or missing kid, claims of the wrong shape).
 * Every one must be answered 401 unauthenticated, never 500 and never accepted.
 */
import assert from "node:assert/strict";
import { createHmac, generateKeyPairSync, randomBytes } from "node:crypto";
import { after, before, it } from "node:test";
import fc from "fast-check";
import { SignJWT } from "jose";
import { testKey } from "../support/api-keys.js";
import { payloadOf, signToken, tamper, testSigningKey } from "../support/account-tokens.js";
import { jsonClients } from "../support/clients.js";
import { startTestService, type TestService } from "../support/service.js";

const backend = testKey("fuzz-backend", ["read", "accounts:write"]);
const k1 = testSigningKey("k1");
let svc: TestService;
let valid: string;

before(async () => {
  svc = await startTestService({ AUTH_DISABLED: "false", API_KEYS: backend.entry, TOKEN_SIGNING_KEYS: k1.entry });
  await jsonClients(svc.url, backend.key).accounts.createAccount({ accountId: "alice", currency: "USD", displayName: "Alice" });
  valid = (await jsonClients(svc.url, backend.key).accounts.mintAccountToken({ accountIds: ["alice"], scopes: ["read"] })).token;
});
after(() => svc?.stop());

/** Status and Connect code of a GetAccountBalance sent with `bearer`. */
async function answer(bearer: string): Promise<[number, string]> {
  const response = await fetch(`${svc.url}/payment.v1.PaymentService/GetAccountBalance`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${bearer}` },
    body: JSON.stringify({ accountId: "alice" }),
  });
  const body = (await response.json()) as { code?: string };
  return [response.status, body.code ?? "ok"];
}

/** Signed by hand (HMAC-SHA256 with k1), for headers jose will not produce. */
function hmacToken(header: unknown, payload: unknown): string {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${createHmac("sha256", Buffer.from(k1.secret, "base64url")).update(input).digest("base64url")}`;
}

const b64 = (value: unknown) => Buffer.from(typeof value === "string" ? value : JSON.stringify(value)).toString("base64url");

it("the valid token works (the fuzz below is not refused for a trivial reason)", async () => {
  assert.deepEqual(await answer(valid), [200, "ok"]);
});

it("crafted near-misses are 401", async () => {
  const claims = payloadOf(valid);
  const now = Math.floor(Date.now() / 1000);
  const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const ed = generateKeyPairSync("ed25519");
  const publicPem = rsa.publicKey.export({ type: "spki", format: "pem" }).toString();
  const crafted: Record<string, string> = {
    "alg none": `${b64({ alg: "none", typ: "JWT", kid: "k1" })}.${b64(claims)}.`,
    "alg none with a signature part": `${b64({ alg: "none", typ: "JWT", kid: "k1" })}.${b64(claims)}.${b64("x")}`,
    "HS512 with the right secret": await new SignJWT(claims).setProtectedHeader({ alg: "HS512", kid: "k1", typ: "JWT" }).sign(Buffer.from(k1.secret, "base64url")),
    "RS256": await new SignJWT(claims).setProtectedHeader({ alg: "RS256", kid: "k1", typ: "JWT" }).sign(rsa.privateKey),
    "EdDSA": await new SignJWT(claims).setProtectedHeader({ alg: "EdDSA", kid: "k1", typ: "JWT" }).sign(ed.privateKey),
    "HS256 keyed with a public key": await new SignJWT(claims).setProtectedHeader({ alg: "HS256", kid: "k1", typ: "JWT" }).sign(Buffer.from(publicPem)),
    "wrong audience": await signToken(k1, { ...claims, aud: "someone-else" }),
    "wrong issuer": await signToken(k1, { ...claims, iss: "someone-else" }),
    "expired": await signToken(k1, { ...claims, iat: now - 900, exp: now - 60 }),
    "not yet valid": await signToken(k1, { ...claims, nbf: now + 600 }),
    "lifetime over an hour": await signToken(k1, { ...claims, iat: now, exp: now + 7200 }),
    "tampered accounts": tamper(valid, (payload) => (payload.acc = ["alice", "bob"])),
    "tampered scopes": tamper(valid, (payload) => (payload.scp = ["read", "accounts:write"])),
    "tampered expiry": tamper(valid, (payload) => (payload.exp = now + 3000)),
    "signature of another token": `${valid.split(".").slice(0, 2).join(".")}.${b64(randomBytes(32))}`,
    "unknown kid": await signToken(k1, claims, { kid: "k9" }),
    "no kid": await new SignJWT(claims).setProtectedHeader({ alg: "HS256", typ: "JWT" }).sign(Buffer.from(k1.secret, "base64url")),
    "no typ": await new SignJWT(claims).setProtectedHeader({ alg: "HS256", kid: "k1" }).sign(Buffer.from(k1.secret, "base64url")),
    "operator scope": await signToken(k1, { ...claims, scp: ["admin"] }),
    "accounts not a list": await signToken(k1, { ...claims, acc: "alice" }),
    "no accounts": await signToken(k1, { ...claims, acc: [] }),
    "unknown key ref": await signToken(k1, { ...claims, key: "01KNOWNNOTHING0000000000000" }),
    "another tenant": await signToken(k1, { ...claims, ten: "acme" }),
    "another client": await signToken(k1, { ...claims, sub: "someone" }),
    "no exp": await signToken(k1, { ...claims, exp: undefined }),
    "no sub": await signToken(k1, { ...claims, sub: undefined }),
    "crit header": hmacToken({ alg: "HS256", kid: "k1", typ: "JWT", crit: ["exp"] }, claims),
    "b64 false": hmacToken({ alg: "HS256", kid: "k1", typ: "JWT", b64: false, crit: ["b64"] }, claims),
    "HS256 by hand, claims as a string": hmacToken({ alg: "HS256", kid: "k1", typ: "JWT" }, JSON.stringify(JSON.stringify(claims))),
    "header not JSON": `${b64("{not json")}.${b64(claims)}.${b64("sig")}`,
    "payload not JSON": `${valid.split(".")[0]}.${b64("[[[")}.${valid.split(".")[2]}`,
    "huge payload": `${valid.split(".")[0]}.${"A".repeat(12_000)}.${valid.split(".")[2]}`,
  };
  assert.deepEqual(await answer(hmacToken({ alg: "HS256", kid: "k1", typ: "JWT" }, claims)), [200, "ok"], "signing by hand works");
  for (const [name, token] of Object.entries(crafted)) {
    assert.deepEqual(await answer(token), [401, "unauthenticated"], name);
  }
});

it("random bytes and random JWT-shaped strings are 401", async () => {
  const part = fc.uint8Array({ minLength: 0, maxLength: 200 }).map((bytes) => Buffer.from(bytes).toString("base64url"));
  const jsonPart = fc.jsonValue({ maxDepth: 3 }).map(b64);
  const bearer = fc.oneof(
    fc.string({ unit: fc.integer({ min: 0x21, max: 0x7e }).map((code) => String.fromCharCode(code)), minLength: 1, maxLength: 300 }),
    fc.tuple(part, part, part).map((parts) => parts.join(".")),
    fc.tuple(jsonPart, jsonPart, part).map((parts) => parts.join(".")),
    fc.tuple(fc.constantFrom(valid.split(".")[0]!), jsonPart, fc.constantFrom(valid.split(".")[2]!)).map((parts) => parts.join(".")),
  );
  await fc.assert(
    fc.asyncProperty(bearer, async (token) => {
      fc.pre(token.trim() === token && token.length > 0);
      const [status, code] = await answer(token);
      assert.deepEqual([status, code], [401, "unauthenticated"], token.slice(0, 80));
    }),
    { numRuns: 300 },
  );
});
