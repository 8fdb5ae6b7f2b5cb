/**
 * `npm run pack:client`: builds `payment-ledger/client` as an installable npm package and packs it.
 *
 * The repository's own package is the service (private, with Kafka and PGlite among its
 * dependencies); what other projects install is this package: the same name, so their imports read
 * `payment-ledger/client` as the repository's do, but only the client, the generated message types
 * (`payment-ledger/gen/payment/v1/*_pb.js`) and the example, as ES modules with .d.ts files, and
 * only the dependencies that code imports (found in the emitted JavaScript, with the versions the
 * repository pins). Prints the tarball's path (dist/payment-ledger-<version>.tgz).
 */
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";

const root = join(import.meta.dirname, "..");
const out = join(root, "dist/client-package");

interface RootManifest {
  name: string;
  version: string;
  description: string;
  engines: Record<string, string>;
  dependencies: Record<string, string>;
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? filesUnder(join(dir, entry.name)) : [join(dir, entry.name)],
  );
}

/** The npm packages the emitted JavaScript imports (bare specifiers, node: builtins excluded). */
export function importedPackages(files: string[]): Set<string> {
  const packages = new Set<string>();
  for (const file of files.filter((name) => name.endsWith(".js"))) {
    for (const [, specifier] of readFileSync(file, "utf8").matchAll(/(?:from|import)\s*\(?\s*"([^"]+)"/g)) {
      if (specifier!.startsWith(".") || specifier!.startsWith("node:")) continue;
      const parts = specifier!.split("/");
      packages.add(specifier!.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0]!);
    }
  }
  return packages;
}

export function packClient(): string {
  const manifest = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as RootManifest;
  rmSync(out, { recursive: true, force: true });
  execFileSync(join(root, "node_modules/.bin/tsc"), ["-p", join(root, "tsconfig.client.json")], { stdio: "inherit" });

  const dependencies: Record<string, string> = {};
  for (const name of [...importedPackages(filesUnder(out))].sort()) {
    if (name === manifest.name) continue; // the example imports the package itself
    const version = manifest.dependencies[name];
    if (!version) throw new Error(`the client imports ${name}, which package.json does not list in dependencies`);
    dependencies[name] = version;
  }
  const clientManifest = {
    name: manifest.name,
    version: manifest.version,
    description: "Typed Connect/gRPC client of the payment ledger, with its generated message types",
    type: "module",
    engines: manifest.engines,
    exports: {
      "./client": { types: "./src/client/index.d.ts", default: "./src/client/index.js" },
      "./gen/*": "./gen/*",
    },
    files: ["src", "gen", "examples", "README.md"],
    dependencies,
  };
  writeFileSync(join(out, "package.json"), `${JSON.stringify(clientManifest, null, 2)}\n`);
  writeFileSync(
    join(out, "README.md"),
    [
      "# payment-ledger/client",
      "",
      "Typed clients of the payment ledger's AccountService and PaymentService (Connect or gRPC over",
      "HTTP/2), with idempotency keys and retries of `unavailable`/`aborted` built in.",
      "",
      "```js",
      'import { createLedgerClient } from "payment-ledger/client";',
      'const ledger = createLedgerClient({ baseUrl: "http://127.0.0.1:8080", apiKey: process.env.LEDGER_API_KEY });',
      "```",
      "",
      "A complete run: `LEDGER_URL=http://127.0.0.1:8080 LEDGER_API_KEY=... node node_modules/payment-ledger/examples/authorize-payment.js`.",
      "",
    ].join("\n"),
  );
  const packed = JSON.parse(
    execFileSync("npm", ["pack", out, "--json", "--pack-destination", join(root, "dist")], { encoding: "utf8", cwd: root }),
  ) as { filename: string }[];
  return join(root, "dist", packed[0]!.filename);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(relative(process.cwd(), packClient()));
}
