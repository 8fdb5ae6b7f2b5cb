/**
 * One process at a time on an embedded PGlite data directory. PGlite is PostgreSQL compiled to
 * WASM inside the process that opens it: two processes on one directory (the service and
 * `npm run verify`, say) each run their own PostgreSQL over the same files, which corrupts them.
 *
 * Mechanism: a lock file in the directory, created exclusively (O_EXCL), naming the holder's pid,
 * its start time (from /proc, so a pid reused by another program after a crash is not mistaken
 * for the holder) and its command. A holder that is gone (killed, crashed) leaves a stale file,
 * which the next opener takes over. The file is removed on close and when the process exits.
 */
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from "node:fs";
import { join } from "node:path";

export const LOCK_FILE = "payment-ledger.lock";

/** Exit status of a process refused because another one has the directory (sysexits EX_TEMPFAIL). */
export const DATA_DIR_IN_USE_EXIT_STATUS = 75;

interface LockOwner {
  pid: number;
  /** Start time of the process in clock ticks since boot (/proc/<pid>/stat field 22); null off Linux. */
  startTicks: string | null;
  command: string;
  since: string;
}

export class DataDirInUseError extends Error {
  override readonly name = "DataDirInUseError";
  constructor(
    readonly dataDir: string,
    readonly owner: LockOwner,
  ) {
    super(
      `the embedded database in ${dataDir} is in use by process ${owner.pid} (${owner.command}, since ${owner.since}); ` +
        `PGlite allows one process per data directory. Stop that process first (Ctrl-C, or kill ${owner.pid}), ` +
        `or use the running service's API instead (npm run verify: AdminService/VerifyLedger; migrations: the service applies them at start)`,
    );
  }
}

export interface DataDirLock {
  release(): void;
}

function startTicksOf(pid: number): string | null {
  try {
    // The command name (field 2) may contain spaces and parentheses: count fields after the last ")".
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19] ?? null;
  } catch {
    return null;
  }
}

/** Whether the process that wrote `owner` still runs (the same process, not a reuse of its pid). */
function holderAlive(owner: LockOwner): boolean {
  try {
    process.kill(owner.pid, 0);
  } catch (error) {
    // EPERM: it exists but belongs to another user.
    if ((error as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  const ticks = startTicksOf(owner.pid);
  return owner.startTicks === null || ticks === null || ticks === owner.startTicks;
}

function readOwner(path: string): LockOwner | null {
  try {
    const owner = JSON.parse(readFileSync(path, "utf8")) as LockOwner;
    return Number.isInteger(owner.pid) && owner.pid > 0 ? owner : null;
  } catch {
    return null;
  }
}

/** Directories this process holds, so that a second open in the same process is refused too. */
const held = new Set<string>();

/**
 * Takes the directory's lock or throws DataDirInUseError naming the process that has it. A lock
 * file whose holder is gone, or that cannot be read, is replaced.
 */
export function lockDataDir(dataDir: string): DataDirLock {
  const path = join(dataDir, LOCK_FILE);
  const me: LockOwner = {
    pid: process.pid,
    startTicks: startTicksOf(process.pid),
    command: process.argv.slice(1).map((arg) => arg.split("/").slice(-2).join("/")).join(" ").slice(0, 120),
    since: new Date().toISOString(),
  };
  if (held.has(path)) throw new DataDirInUseError(dataDir, readOwner(path) ?? me);
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = openSync(path, "wx", 0o600);
      try {
        writeSync(fd, `${JSON.stringify(me)}\n`);
      } finally {
        closeSync(fd);
      }
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST" || attempt >= 3) throw error;
      const owner = readOwner(path);
      if (owner && holderAlive(owner)) throw new DataDirInUseError(dataDir, owner);
      // Stale (its holder is gone) or unreadable: remove it and try again. Not airtight: two
      // processes replacing the same stale file in the same instant could both get through
      // (Node has no flock); the window is the few microseconds between reading and unlinking.
      try {
        unlinkSync(path);
      } catch (unlinkError) {
        if ((unlinkError as NodeJS.ErrnoException).code !== "ENOENT") throw unlinkError;
      }
    }
  }
  held.add(path);
  const release = () => {
    process.removeListener("exit", release);
    if (!held.delete(path)) return;
    // Only our own file: never a lock another process took over after a stale-lock race.
    if (readOwner(path)?.pid !== process.pid) return;
    try {
      unlinkSync(path);
    } catch {
      // Already gone.
    }
  };
  process.once("exit", release);
  return { release };
}

/** For the command-line tools: prints the refusal and exits with DATA_DIR_IN_USE_EXIT_STATUS; rethrows anything else. */
export function exitIfDataDirInUse(error: unknown): never {
  if (error instanceof DataDirInUseError) {
    console.error(`refused: ${error.message}`);
    process.exit(DATA_DIR_IN_USE_EXIT_STATUS);
  }
  throw error;
}
