/**
 * scripts/lib.sh's cleanup: a run that starts services through services_for_this_run exits with its
 * own status, whatever stopping the services and removing the scratch directory meet, and leaves
 * neither a process nor a directory behind. Each service script's `stop` returns only once its
 * process is gone (a Redis still shutting down while its directory was removed made a green
 * `npm test` exit 1).
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { chmod } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A process that exists and has not exited (a zombie counts as gone, as in lib.sh). */
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

/**
 * Runs `body` in bash after sourcing scripts/lib.sh, from the repository root. Only Redis is
 * started unless `services` says otherwise: the other services' variables are preset, which
 * start_services takes as "provided by the environment".
 */
function bash(body: string, { services = ["redis"], onStdout }: { services?: string[]; onStdout?: (text: string, child: ReturnType<typeof spawn>) => void } = {}): Promise<Run> {
  const env: Record<string, string | undefined> = { ...process.env, DATABASE_URL: "postgres://preset", REDIS_URL: "redis://preset", KAFKA_BROKERS: "preset" };
  for (const service of services) delete env[{ postgres: "DATABASE_URL", redis: "REDIS_URL", kafka: "KAFKA_BROKERS" }[service]!];
  const child = spawn("bash", ["-c", `set -euo pipefail\nsource scripts/lib.sh\n${body}`], { env, stdio: ["pipe", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
    onStdout?.(stdout, child);
  });
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) => child.once("close", (code) => resolve({ code, stdout, stderr })));
}

/** The values a run printed as NAME=value lines. */
function printed(run: Run, name: string): string {
  const value = new RegExp(`^${name}=(.*)$`, "m").exec(run.stdout)?.[1];
  assert.ok(value, `the run printed ${name}:\n${run.stdout}\n${run.stderr}`);
  return value;
}

// What each run does before exiting: starts the services, writes beside Redis's files, and prints
// where they are, so the test can check that the directory and the process are gone afterwards.
const startAndReport = `
services_for_this_run libtest
echo "WORK_DIR=$WORK_DIR"
echo "REDIS_PID=$(cat "$WORK_DIR/redis/redis.pid")"
echo scratch >"$WORK_DIR/redis/scratch"
`;

describe("services_for_this_run", () => {
  it("exits 0 twenty times in a row, with no Redis process or directory left behind", async () => {
    for (let attempt = 1; attempt <= 20; attempt++) {
      const run = await bash(startAndReport);
      const detail = `run ${attempt}:\n${run.stdout}\n${run.stderr}`;
      assert.equal(run.code, 0, detail);
      assert.ok(!existsSync(printed(run, "WORK_DIR")), `the scratch directory is removed (${detail})`);
      assert.ok(!alive(Number(printed(run, "REDIS_PID"))), `Redis is stopped (${detail})`);
      assert.doesNotMatch(run.stderr, /rm: |cleanup: |stop: /, detail);
    }
  });

  it("keeps a failing run's status and still cleans up", async () => {
    const run = await bash(`${startAndReport}\nexit 3`);
    assert.equal(run.code, 3, run.stderr);
    assert.ok(!existsSync(printed(run, "WORK_DIR")));
    assert.ok(!alive(Number(printed(run, "REDIS_PID"))));
  });

  it("does not let a failing rm or a failing stop change the run's status", async () => {
    // rm fails: the run still exits 0 and names the directory it left.
    const rmFails = await bash(`${startAndReport}\nrm() { return 1; }`);
    const left = printed(rmFails, "WORK_DIR");
    try {
      assert.equal(rmFails.code, 0, rmFails.stderr);
      assert.match(rmFails.stderr, new RegExp(`cleanup: could not remove ${left}`));
      assert.ok(!alive(Number(printed(rmFails, "REDIS_PID"))), "services are stopped before the directory is removed");
    } finally {
      rmSync(left, { recursive: true, force: true });
    }

    // A service's stop fails: reported, the directory still removed, status kept.
    const stopFails = await bash(`${startAndReport}\nSTARTED_SERVICES+=(nonexistent)`);
    assert.equal(stopFails.code, 0, stopFails.stderr);
    assert.match(stopFails.stderr, /services: stopping nonexistent failed/);
    assert.ok(!existsSync(printed(stopFails, "WORK_DIR")));
    assert.ok(!alive(Number(printed(stopFails, "REDIS_PID"))));
  });

  it("stops its services and removes its directory on SIGTERM and Ctrl-C (status 143, 130)", async () => {
    for (const [signal, status] of [["SIGTERM", 143], ["SIGINT", 130]] as const) {
      // `read` waits on stdin, which the test keeps open: the signal interrupts it.
      const run = await bash(`${startAndReport}\necho waiting\nread -r _`, {
        onStdout: (text, child) => {
          if (text.includes("waiting") && child.signalCode === null && !child.killed) child.kill(signal);
        },
      });
      assert.equal(run.code, status, `${signal}: ${run.stderr}`);
      assert.ok(!existsSync(printed(run, "WORK_DIR")), signal);
      assert.ok(!alive(Number(printed(run, "REDIS_PID"))), signal);
    }
  });
});

describe("scripts/services/<name>.sh stop", () => {
  const pidFiles = { redis: "redis/redis.pid", postgres: "postgres/data/postmaster.pid", kafka: "kafka/pid" };

  for (const [name, pidFile] of Object.entries(pidFiles)) {
    it(`${name}: returns once the process is gone, and a second stop is a no-op`, { timeout: 120_000 }, async () => {
      const dir = mkdtempSync(join(tmpdir(), `ledger-libtest-${name}-`));
      await chmod(dir, 0o755);
      try {
        const start = await bash(`bash scripts/services/${name}.sh start "${dir}"`, { services: [] });
        assert.equal(start.code, 0, start.stderr);
        const pid = Number(readFileSync(join(dir, pidFile), "utf8").split("\n")[0]);
        assert.ok(alive(pid), `${name} runs as ${pid}`);
        const stop = await bash(`bash scripts/services/${name}.sh stop "${dir}"`, { services: [] });
        assert.equal(stop.code, 0, stop.stderr);
        assert.ok(!alive(pid), `${name} (pid ${pid}) is gone when stop returns`);
        rmSync(dir, { recursive: true });
        assert.ok(!existsSync(dir));
        const again = await bash(`bash scripts/services/${name}.sh stop "${dir}"`, { services: [] });
        assert.equal(again.code, 0, again.stderr);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
