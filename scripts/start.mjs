/**
 * `npm start`: bundles src/main.ts (this project's sources only; packages stay imports) with esbuild
 * and runs the bundle in this process. tsx's loader would do the same per file, but Node 20 runs
 * loader hooks on a second V8 thread that stays for the life of the process: about 34 MB of the
 * embedded default's RSS (README, "Memory of the embedded default"). Bundled at every start (well
 * under a second), so it never runs stale code; the bundle is named by its content, so services
 * starting at once share it safely. Stack traces name lines of the bundle; its source map sits
 * beside it (NODE_OPTIONS=--enable-source-maps maps them back to src/).
 */
import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build } from "esbuild";

const root = fileURLToPath(new URL("..", import.meta.url));
const outDir = join(root, ".tmp", "start");

/** Keeps each source file's own `import.meta.url`: src/ reads files beside it (SQL, the console page). */
const ownImportMetaUrl = {
  name: "own-import-meta-url",
  setup(builder) {
    builder.onLoad({ filter: /\.ts$/ }, async (args) => ({
      contents: (await readFile(args.path, "utf8")).replaceAll("import.meta.url", JSON.stringify(pathToFileURL(args.path).href)),
      loader: "ts",
    }));
  },
};

const result = await build({
  entryPoints: [join(root, "src", "main.ts")],
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  packages: "external",
  outfile: join(outDir, "main.mjs"),
  sourcemap: "linked",
  write: false,
  logLevel: "warning",
  plugins: [ownImportMetaUrl],
});
const code = result.outputFiles.find((file) => file.path.endsWith(".mjs"));
const map = result.outputFiles.find((file) => file.path.endsWith(".map"));
const name = `main-${createHash("sha256").update(code.contents).digest("hex").slice(0, 16)}`;
const bundle = join(outDir, `${name}.mjs`);
mkdirSync(outDir, { recursive: true });
for (const old of readdirSync(outDir)) {
  const path = join(outDir, old);
  // Bundles of earlier sources, once no start can still be loading them.
  if (!old.startsWith(name) && Date.now() - statSync(path, { throwIfNoEntry: false })?.mtimeMs > 3_600_000) rmSync(path, { force: true });
}
// Written under a temporary name and renamed: a service starting at the same moment sees all or nothing.
const temporary = `${bundle}.${process.pid}`;
writeFileSync(`${temporary}.map`, map.contents);
renameSync(`${temporary}.map`, `${bundle}.map`);
writeFileSync(temporary, code.text.replace(/\/\/# sourceMappingURL=main\.mjs\.map\s*$/, `//# sourceMappingURL=${name}.mjs.map\n`));
renameSync(temporary, bundle);
await import(pathToFileURL(bundle).href);
