/**
 * One process per embedded PGlite data directory: while the service runs on it, `npm run verify`,
 * `npm run db:migrate` and a second `npm start` are refused with a message naming the service's
 * process (exit 75), instead of opening a second PostgreSQL on the same files. A holder that is
 * gone (SIGKILL) leaves a stale lock that the next process takes over.
 */
import assert from "node:assert/strict";
import { execFile, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { after, describe, it } from "node:test";
import { DATA_DIR_IN_USE_EXIT_STATUS, DataDirInUseError, LOCK_FILE, lockDataDir } from "../../src/db/pglite-lock.js";
import { freePort, spawnService } from "../support/process.js";

const run = promisify(execFile);
const dirs: string[] = [];
function freshDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "ledger-pglite-lock-"));
  dirs.push(dir);
  return dir;
}
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** Runs an npm script with the embedded default on `dataDir`; resolves with its status and output. */
async function npmRun(script: string, dataDir: string): Promise<{ code: number; output: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, PGLITE_DATA_DIR: dataDir };
  delete env.DATABASE_URL;
  return run("npm", ["run", "--silent", script], { env }).then(
    ({ stdout, stderr }) => ({ code: 0, output: stdout + stderr }),
    (error: { code: number; stdout: string; stderr: string }) => ({ code: error.code, output: error.stdout + error.stderr }),
  );
}

describe("lockDataDir", () => {
  it("refuses a second holder, also in the same process, until released", () => {
    const dir = freshDir();
    const lock = lockDataDir(dir);
    const owner = JSON.parse(readFileSync(join(dir, LOCK_FILE), "utf8")) as { pid: number };
    assert.equal(owner.pid, process.pid);
    assert.throws(() => lockDataDir(dir), (error: unknown) => error instanceof DataDirInUseError && error.message.includes(`process ${process.pid}`));
    lock.release();
    assert.ok(!existsSync(join(dir, LOCK_FILE)), "release removes the file");
    lockDataDir(dir).release();
  });

  it("takes over a lock whose process is gone, or whose pid now belongs to another process", () => {
    const dir = freshDir();
    const gone = spawnSync(process.execPath, ["-e", ""]).pid!;
    writeFileSync(join(dir, LOCK_FILE), JSON.stringify({ pid: gone, startTicks: null, command: "old", since: "then" }));
    lockDataDir(dir).release();
    // The parent process is alive, but it started at another time than the lock says: a reused pid.
    writeFileSync(join(dir, LOCK_FILE), JSON.stringify({ pid: process.ppid, startTicks: "1", command: "old", since: "then" }));
    lockDataDir(dir).release();
    writeFileSync(join(dir, LOCK_FILE), "not json");
    lockDataDir(dir).release();
  });
});

describe("while the service runs on the embedded default", () => {
  it("verify, db:migrate and a second npm start are refused naming the service; after it stops, verify runs", { timeout: 240_000 }, async () => {
    const dataDir = freshDir();
    const service = spawnService({ PORT: String(await freePort()), PGLITE_DATA_DIR: dataDir });
    let checked = false;
    try {
      await service.waitFor(/"msg":"listening/, 120_000);
      const pid = service.child.pid!;
      for (const script of ["verify", "db:migrate"]) {
        const refused = await npmRun(script, dataDir);
        assert.equal(refused.code, DATA_DIR_IN_USE_EXIT_STATUS, `${script}: ${refused.output}`);
        assert.match(refused.output, new RegExp(`refused: the embedded database in ${dataDir} is in use by process ${pid} `), script);
        assert.match(refused.output, /Stop that process first/);
      }
      const second = spawnService({ PORT: String(await freePort()), PGLITE_DATA_DIR: dataDir });
      const code = await new Promise((resolve) => second.child.once("exit", resolve));
      assert.equal(code, DATA_DIR_IN_USE_EXIT_STATUS, second.output());
      assert.match(second.output(), new RegExp(`cannot start: the embedded database in ${dataDir} is in use by process ${pid} `));
      checked = true;
    } finally {
      // After a failure above, only stop the service: an assertion here would replace that failure
      // (and the output it carries) with this one.
      const status = await service.stop("SIGTERM");
      if (checked) assert.equal(status, 0, service.output().slice(-3_000));
    }
    assert.ok(!existsSync(join(dataDir, LOCK_FILE)), "the service removes its lock when it stops");
    const verified = await npmRun("verify", dataDir);
    assert.equal(verified.code, 0, verified.output);
    assert.match(verified.output, /ledger verified/);
  });

  it("a service killed with SIGKILL leaves a stale lock that the next process takes over", { timeout: 240_000 }, async () => {
    const dataDir = freshDir();
    const service = spawnService({ PORT: String(await freePort()), PGLITE_DATA_DIR: dataDir });
    await service.waitFor(/"msg":"listening/, 120_000);
    await service.stop("SIGKILL");
    assert.ok(existsSync(join(dataDir, LOCK_FILE)), "SIGKILL leaves the file behind");
    const verified = await npmRun("verify", dataDir);
    assert.equal(verified.code, 0, verified.output);
  });
});
