/**
 * The protobuf contract: lint clean, generated code and schemas current, and no breaking change
 * against the contract that last landed: the proto/ of HEAD while proto/ has uncommitted changes,
 * otherwise the proto/ from before the newest commit that changed it. (Comparing a branch with
 * itself could never fail; this comparison fails on the commit that breaks the contract.)
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";

const run = promisify(execFile);
const root = new URL("../..", import.meta.url).pathname;
const buf = join(root, "node_modules/.bin/buf");

it("passes buf lint (STANDARD)", async () => {
  await run(buf, ["lint"], { cwd: root });
});

it("has gen/ and schemas/ matching their sources", async () => {
  await run("bash", ["scripts/check-generated.sh"], { cwd: root }).catch((error: { stderr?: string }) => {
    assert.fail(error.stderr ?? String(error));
  });
});

/** The commit whose proto/ is the contract that last landed, or undefined when there is none. */
async function landedContract(): Promise<string | undefined> {
  const dirty = await run("git", ["diff", "--quiet", "HEAD", "--", "proto"], { cwd: root }).then(() => false, () => true);
  if (dirty) return (await run("git", ["rev-parse", "HEAD"], { cwd: root })).stdout.trim();
  const { stdout: last } = await run("git", ["log", "-1", "--format=%H", "--", "proto"], { cwd: root });
  const parent = await run("git", ["rev-parse", "--verify", "--quiet", `${last.trim()}^`], { cwd: root }).then(
    ({ stdout }) => stdout.trim(),
    () => undefined,
  );
  return parent;
}

/** Writes buf.yaml and proto/ as of `commit` into `dir`. */
async function exportContract(commit: string, dir: string): Promise<void> {
  await run("bash", ["-c", `git archive ${commit} buf.yaml proto | tar -x -C ${dir}`], { cwd: root });
}

/** `buf breaking` of the module in `dir` against the one in `against`; the findings, empty when none. */
async function breakingChanges(dir: string, against: string): Promise<string> {
  return run(buf, ["breaking", "--against", against], { cwd: dir }).then(
    () => "",
    (error: { stdout?: string; stderr?: string }) => `${error.stdout ?? ""}${error.stderr ?? ""}` || "buf breaking failed",
  );
}

describe("buf breaking against the landed contract", () => {
  let base: string | undefined;
  let against: string;
  let work: string;

  before(async () => {
    base = await landedContract();
    against = await mkdtemp(join(tmpdir(), "contract-base-"));
    work = await mkdtemp(join(tmpdir(), "contract-work-"));
    if (base) await exportContract(base, against);
  });
  after(async () => {
    await rm(against, { recursive: true, force: true });
    await rm(work, { recursive: true, force: true });
  });

  it("makes no breaking change against it", async (t) => {
    if (!base) return t.skip("proto/ has no earlier version to compare with");
    assert.equal(await breakingChanges(root, against), "", `breaking changes against ${base}`);
  });

  it("fails when a change breaks it (a field removed)", async (t) => {
    if (!base) return t.skip("proto/ has no earlier version to compare with");
    await cp(join(root, "buf.yaml"), join(work, "buf.yaml"));
    await cp(join(root, "proto"), join(work, "proto"), { recursive: true });
    const file = join(work, "proto/payment/v1/payment.proto");
    const text = await readFile(file, "utf8");
    const broken = text.replace(/^\s*string description = \d+;\s*$/m, "");
    assert.notEqual(broken, text, "the test found a field to remove");
    await writeFile(file, broken);
    assert.match(await breakingChanges(work, against), /description/);
  });
});
