/**
 * Serves the console: GET /console (the page) and GET /console/app.js, bundled from
 * console-app.ts with esbuild when the server starts (about a second, once), so that nothing
 * generated is committed and the page always matches the generated clients.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import type { FastifyInstance } from "fastify";
import type { Logger } from "../telemetry/logger.js";

const here = (name: string) => fileURLToPath(new URL(name, import.meta.url));

// The page talks only to its own origin or the API origin chosen with ?api=.
const CONTENT_SECURITY_POLICY =
  "default-src 'self'; connect-src 'self' http: https:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'";

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
  app.get("/console/app.js", async (_request, reply) =>
    reply.type("text/javascript; charset=utf-8").header("cache-control", "no-cache").send(await script),
  );
}
