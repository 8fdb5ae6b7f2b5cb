/** Account tokens for tests: signing keys to configure, and tokens signed by hand (expired, tampered, foreign). */
import { randomBytes } from "node:crypto";
import { SignJWT, type JWTPayload } from "jose";
import { TOKEN_AUDIENCE, TOKEN_ISSUER } from "../../src/auth/account-tokens.js";

export interface TestSigningKey {
  kid: string;
  secret: string;
  /** For TOKEN_SIGNING_KEYS. */
  entry: string;
}

export function testSigningKey(kid: string): TestSigningKey {
  const secret = randomBytes(32).toString("base64url");
  return { kid, secret, entry: `${kid}:${secret}` };
}

/**
 * A token signed with `key` carrying the claims minting would give (overridable): for expired,
 * foreign-key or otherwise crafted tokens. `header` overrides the protected header.
 */
export async function signToken(key: TestSigningKey, claims: JWTPayload & Record<string, unknown>, header: Record<string, unknown> = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ iss: TOKEN_ISSUER, aud: TOKEN_AUDIENCE, iat: now, exp: now + 300, jti: `t-${now}`, ...claims })
    .setProtectedHeader({ alg: "HS256", kid: key.kid, typ: "JWT", ...header })
    .sign(Buffer.from(key.secret, "base64url"));
}

/** The payload of a token, decoded without checking anything. */
export function payloadOf(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString("utf8")) as Record<string, unknown>;
}

/** The token with its payload replaced by `payload` and the signature kept (tampered). */
export function tamper(token: string, change: (payload: Record<string, unknown>) => void): string {
  const [header, , signature] = token.split(".");
  const payload = payloadOf(token);
  change(payload);
  return `${header}.${Buffer.from(JSON.stringify(payload)).toString("base64url")}.${signature}`;
}
