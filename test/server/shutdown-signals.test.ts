/**
 * SIGINT and SIGTERM: the first drains, repeats are ignored (logged), the third forces the exit. In a
 * real terminal (a pseudo-terminal made by `script`), Ctrl-C reaches `npm start` and node both and
 * npm forwards it again; the service must still drain: an open watch stream ends cleanly, and the
 * process exits 0.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { EventEmitter, once } from "node:events";
import { describe, it } from "node:test";
import { FORCED_EXIT_STATUS, handleShutdownSignals } from "../../src/server/shutdown-signals.js";
import { jsonClients } from "../support/clients.js";
import { createTestDatabase } from "../support/database.js";
import { capturingLogger } from "../support/logs.js";
import { freePort } from "../support/process.js";
import { EDGE_DEFAULTS } from "../support/service.js";
import { until } from "../support/until.js";

function harness() {
  const { logger, lines } = capturingLogger();
  const target = new EventEmitter();
  const exits: number[] = [];
  let finish!: () => void;
  let stops = 0;
  const stopped = new Promise<void>((resolve) => (finish = resolve));
  handleShutdownSignals({
    logger,
    target,
    exit: (status) => void exits.push(status),
    stop: () => (stops++, stopped),
  });
  return { target, exits, lines, finish, stops: () => stops, messages: () => lines.map((line) => String(line.msg)) };
}

describe("handleShutdownSignals", () => {
  it("drains on the first signal and exits 0 when the drain ends", async () => {
    const h = harness();
    h.target.emit("SIGTERM");
    assert.equal(h.stops(), 1);
    assert.match(h.messages()[0]!, /^shutting down: draining/);
    assert.deepEqual(h.exits, []);
    h.finish();
    await until("exit", () => h.exits.length > 0);
    assert.deepEqual(h.exits, [0]);
    assert.equal(h.messages().at(-1), "stopped");
  });

  it("ignores the second signal (logged), forces the exit on the third (logged)", () => {
    const h = harness();
    h.target.emit("SIGINT");
    h.target.emit("SIGINT");
    assert.equal(h.stops(), 1, "the drain starts once");
    assert.deepEqual(h.exits, [], "the second signal does not end the process");
    assert.match(h.messages()[1]!, /^signal ignored: already draining/);
    assert.equal(h.lines[1]!.level, 40);
    h.target.emit("SIGTERM");
    assert.deepEqual(h.exits, [FORCED_EXIT_STATUS]);
    assert.match(h.messages()[2]!, /^forced exit/);
    assert.equal(h.lines[2]!.received, 3);
  });
});

/** `npm start` in a pseudo-terminal: writing \x03 is pressing Ctrl-C (SIGINT to the foreground group). */
function npmStartInTerminal(env: Record<string, string>) {
  const inherited = { ...process.env };
  delete inherited.KAFKA_BROKERS;
  // -e: script exits with the command's status; -q: no banner; the typescript file is /dev/null.
  // `exec`: script runs the command through $SHELL (sh when unset, as under CI), and a shell left
  // waiting in the foreground would itself die of the Ctrl-C (status 130) whatever the service does.
  const terminal = spawn("script", ["-qefc", "exec npm start", "/dev/null"], {
    env: { ...inherited, ...EDGE_DEFAULTS, ...env },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let output = "";
  terminal.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
  terminal.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = once(terminal, "exit").then(([code]) => code as number | null);
  return {
    output: () => output,
    pressCtrlC: () => terminal.stdin.write("\x03"),
    exited,
    /** Ends the terminal's input and kills it if still running. */
    close: () => {
      terminal.stdin.end();
      if (terminal.exitCode === null) terminal.kill("SIGKILL");
    },
  };
}

describe("npm start in a terminal", () => {
  it("Ctrl-C drains: an open watch stream ends cleanly and the process exits 0", async () => {
    const database = await createTestDatabase();
    const port = await freePort();
    const npm = npmStartInTerminal({ DATABASE_URL: database.url, PORT: String(port) });
    try {
      await until("the service listening", () => npm.output().includes('"msg":"listening'), { timeoutMs: 60_000, detail: npm.output });
      const { accounts } = jsonClients(`http://127.0.0.1:${port}`);
      const { account } = await accounts.createAccount({ currency: "USD", displayName: "watched" });
      const messages: unknown[] = [];
      const watch = (async () => {
        for await (const message of accounts.watchAccount({ accountId: account!.accountId })) messages.push(message);
      })();
      const watchEnded = watch.then(() => "ended cleanly", (error: unknown) => `failed: ${String(error)}`);
      await until("the watch's first message", () => messages.length > 0);

      npm.pressCtrlC();
      assert.equal(await npm.exited, 0, npm.output());
      assert.equal(await watchEnded, "ended cleanly");
      assert.match(npm.output(), /"signal":"SIGINT","msg":"shutting down: draining/);
      assert.match(npm.output(), /"msg":"stopped"/);
      assert.doesNotMatch(npm.output(), /forced exit/);
    } finally {
      npm.close();
      await database.drop();
    }
  });

  it("Ctrl-C again while draining is ignored until the third signal, which forces the exit", async () => {
    const database = await createTestDatabase();
    const port = await freePort();
    // A long drain delay keeps the service draining while the keys are pressed.
    const npm = npmStartInTerminal({ DATABASE_URL: database.url, PORT: String(port), SHUTDOWN_DRAIN_DELAY_MS: "60000" });
    try {
      await until("the service listening", () => npm.output().includes('"msg":"listening'), { timeoutMs: 60_000, detail: npm.output });
      npm.pressCtrlC();
      await until("the drain to start", () => npm.output().includes("shutting down"), { detail: npm.output });
      // Under npm each press may arrive twice; press until the third signal has been counted.
      let presses = 1;
      while (!npm.output().includes("forced exit")) {
        const ignored = npm.output().split("signal ignored").length;
        npm.pressCtrlC();
        presses++;
        await until("the signal to be logged", () => npm.output().includes("forced exit") || npm.output().split("signal ignored").length > ignored, {
          detail: npm.output,
        });
        assert.ok(presses <= 3, npm.output());
      }
      assert.equal(await npm.exited, FORCED_EXIT_STATUS, npm.output());
      assert.match(npm.output(), /"received":2,"msg":"signal ignored: already draining/);
      assert.match(npm.output(), /"received":3,"msg":"forced exit/);
      assert.doesNotMatch(npm.output(), /"msg":"stopped"/);
    } finally {
      npm.close();
      await database.drop();
    }
  });
});
