/**
 * No Docker engine runs here, so the container files are checked for consistency with the native
 * setup: every variable they set is one the service reads, ports match the defaults, start order
 * is health-gated, and the image runs as a non-root user with a health check.
 */
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { it } from "node:test";
import { parse } from "yaml";
import { ConfigSchema } from "../../src/config/config.js";
import { serviceNodeArgs } from "../support/process.js";

interface ComposeService {
  build?: string;
  environment?: Record<string, string | number>;
  healthcheck?: { test: unknown };
  depends_on?: Record<string, { condition: string }>;
  ports?: string[];
  command?: string[];
}

const compose = parse(readFileSync("compose.yaml", "utf8"), { merge: true }) as { services: Record<string, ComposeService> };
const dockerfile = readFileSync("Dockerfile", "utf8");
const known = new Set(Object.keys(ConfigSchema.properties));
const defaultOf = (name: string) => (ConfigSchema.properties as Record<string, { default?: unknown }>)[name]!.default;

it("every variable the compose file gives our image is one the configuration schema reads", () => {
  const ours = Object.entries(compose.services).filter(([, service]) => service.build === ".");
  assert.deepEqual(ours.map(([name]) => name).sort(), ["ledger", "migrate"]);
  for (const [name, service] of ours) {
    for (const variable of Object.keys(service.environment ?? {})) assert.ok(known.has(variable), `${name}: ${variable} is not in ConfigSchema`);
  }
  assert.match(String(compose.services.ledger!.environment!.DATABASE_URL), /^postgres:\/\/.+@postgres:5432\//);
  assert.equal(compose.services.migrate!.environment!.DATABASE_URL, compose.services.ledger!.environment!.DATABASE_URL);
});

it("the Dockerfile sets only known variables and exposes the default ports", () => {
  // The runtime stage's ENV instruction (the build stage's CKJS_LINKING is for npm, not the service).
  const runtimeEnv = dockerfile.slice(dockerfile.indexOf("ENV HOST="), dockerfile.indexOf("\nEXPOSE"));
  const names = [...runtimeEnv.matchAll(/([A-Z_]+)=/g)].map((m) => m[1]!);
  assert.deepEqual(names, ["HOST", "PORT", "METRICS_HOST", "METRICS_PORT", "PGLITE_DATA_DIR"]);
  for (const name of names) assert.ok(known.has(name), name);
  assert.match(dockerfile, new RegExp(`^EXPOSE ${defaultOf("PORT")} ${defaultOf("METRICS_PORT")}$`, "m"));
  assert.match(dockerfile, /^USER node$/m, "runs unprivileged");
  assert.match(dockerfile, /^HEALTHCHECK .*\n.*\/readyz/m);
  assert.equal((dockerfile.match(/^FROM /gm) ?? []).length, 2, "multi-stage");
});

it("the image starts node with the same arguments as npm start (the heap limit included)", () => {
  const cmd = /^CMD (\[.*\])$/m.exec(dockerfile);
  assert.ok(cmd, "a CMD in exec form");
  assert.deepEqual(JSON.parse(cmd[1]!), ["node", ...serviceNodeArgs()]);
  assert.ok(serviceNodeArgs().some((arg) => /^--max-old-space-size=\d+$/.test(arg)), "a heap limit is set");
});

it("compose: ports match the service's variables, and every dependency is health-gated", () => {
  const ledger = compose.services.ledger!;
  assert.deepEqual(ledger.ports, [`${ledger.environment!.PORT}:${ledger.environment!.PORT}`, `127.0.0.1:${ledger.environment!.METRICS_PORT}:${ledger.environment!.METRICS_PORT}`]);
  for (const [name, service] of Object.entries(compose.services)) {
    for (const [dependency, { condition }] of Object.entries(service.depends_on ?? {})) {
      if (condition === "service_healthy") assert.ok(compose.services[dependency]?.healthcheck, `${dependency} has a health check`);
      else assert.equal(condition, "service_completed_successfully", `${name} waits on ${dependency}`);
    }
  }
  assert.deepEqual(Object.keys(ledger.depends_on!).sort(), ["kafka", "migrate", "redis"]);
  assert.deepEqual(compose.services.migrate!.command, ["node", "--import", "tsx", "src/db/migrate-cli.ts"]);
});

it("the image's production install has every package the service imports", () => {
  const { dependencies } = JSON.parse(readFileSync("package.json", "utf8")) as { dependencies: Record<string, string> };
  // drizzle.config.ts is read by drizzle-kit (a dev tool), never by the service.
  const files = (readdirSync("src", { recursive: true }) as string[]).filter((f) => f.endsWith(".ts") && !f.endsWith("drizzle.config.ts"));
  const missing = new Set<string>();
  for (const file of files) {
    const source = readFileSync(join("src", file), "utf8");
    for (const [, specifier] of source.matchAll(/^import (?!type )[^;]*? from "([^".][^"]*)";/gms)) {
      if (specifier!.startsWith("node:")) continue;
      const name = specifier!.startsWith("@") ? specifier!.split("/").slice(0, 2).join("/") : specifier!.split("/")[0]!;
      if (!(name in dependencies)) missing.add(`${name} (${file})`);
    }
  }
  assert.deepEqual([...missing], [], "imported by src/ but only a devDependency (npm ci --omit=dev leaves it out)");
});
