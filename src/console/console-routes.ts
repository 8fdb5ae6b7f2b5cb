/**
 * Serves the console: GET /console (the page; GET / redirects there) and GET /console/app.js, bundled from
 * console-app.ts with esbuild when the server starts (about a second, once), so that nothing
 * generated is committed and the page always matches the generated clients.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import type { FastifyInstance, FastifyReply } from "fastify";
import type { Logger } from "../telemetry/logger.js";

const here = (name: string) => fileURLToPath(new URL(name, import.meta.url));

// The page talks only to its own origin or the API origin chosen with ?api=.
const CONTENT_SECURITY_POLICY =
  "default-src 'self'; connect-src 'self' http: https:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'";

const FAVICON =
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" fill="#225f22"/>' +
  '<text x="8" y="12.5" font-size="11" text-anchor="middle" fill="#fff" font-family="sans-serif">L</text></svg>';

/** Bundles the browser code into one ES module. */
export async function bundleConsole(): Promise<string> {
  const result = await build({
    entryPoints: [here("console-app.ts")],
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2020",
    minify: true,
    write: false,
    logLevel: "silent",
  });
  return result.outputFiles[0]!.text;
}

export function registerConsole(app: FastifyInstance, logger: Logger): void {
  const page = readFileSync(here("console.html"), "utf8");
  const script = bundleConsole();
  script.catch((error: unknown) => logger.error({ err: error }, "console bundle failed: /console/app.js will answer 500"));

  app.get("/console", async (_request, reply) =>
    reply.type("text/html; charset=utf-8").header("content-security-policy", CONTENT_SECURITY_POLICY).send(page),
  );
  // A favicon of its own, so a browser's automatic request does not end in a 404 in the console.
  const favicon = (_request: unknown, reply: FastifyReply) => reply.type("image/svg+xml").header("cache-control", "max-age=86400").send(FAVICON);
  app.get("/console/favicon.svg", favicon);
  app.get("/favicon.ico", favicon);
  // The root points at the console: a browser follows the redirect, curl shows the text.
  app.get("/", async (_request, reply) =>
    reply
      .code(302)
      .header("location", "/console")
      .type("text/plain; charset=utf-8")
      .send("Payment ledger: the console is at /console. API calls are POST /package.Service/Method (see the README).\n"),
  );
  app.get("/console/app.js", async (_request, reply) =>
    reply.type("text/javascript; charset=utf-8").header("cache-control", "no-cache").send(await script),
  );
}
