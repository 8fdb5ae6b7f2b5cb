/** The protobuf contract: lint clean, generated code and schemas current, no breaking change vs main. */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { it } from "node:test";
import { promisify } from "node:util";

const run = promisify(execFile);

it("passes buf lint (STANDARD)", async () => {
  await run("npx", ["buf", "lint"]);
});

it("has gen/ and schemas/ matching their sources", async () => {
  await run("bash", ["scripts/check-generated.sh"]).catch((error: { stderr?: string }) => {
    assert.fail(error.stderr ?? String(error));
  });
});

it("makes no breaking change against the main branch", async (t) => {
  const { stdout: gitDir } = await run("git", ["rev-parse", "--path-format=absolute", "--git-common-dir"]);
  const { stdout: branches } = await run("git", ["branch", "--list", "main"]);
  if (!branches.trim()) return t.skip("no local main branch to compare with");
  await run("npx", ["buf", "breaking", "--against", `${gitDir.trim()}#branch=main`]).catch((error: { stdout?: string }) => {
    assert.fail(`breaking changes against main:\n${error.stdout}`);
  });
});
