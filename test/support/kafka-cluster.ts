/**
 * The replicated Kafka of scripts/services/ha/kafka-cluster.sh (three KRaft brokers, replication
 * factor 3, min.insync.replicas 2), owned by one test.
 */
import { execFile, execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);
const script = new URL("../../scripts/services/ha/kafka-cluster.sh", import.meta.url).pathname;

export interface KafkaCluster {
  /** host:port of the three brokers, comma separated (KAFKA_BROKERS). */
  brokers: string;
  /** kill -9 of broker `node` (1-3). */
  kill(node: number): Promise<void>;
  remove(): Promise<void>;
}

export async function startKafkaCluster(): Promise<KafkaCluster> {
  const dir = mkdtempSync(join(tmpdir(), "ledger-kafka-cluster-"));
  const script$ = (...args: string[]) => run("bash", [script, ...args], { maxBuffer: 1 << 20 }).then(({ stdout }) => stdout.trim());
  const onExit = () => {
    try {
      execFileSync("bash", [script, "stop", dir], { stdio: "ignore" });
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // Best effort.
    }
  };
  process.once("exit", onExit);
  const remove = async () => {
    try {
      await script$("stop", dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
      process.off("exit", onExit);
    }
  };
  try {
    const output = await script$("start", dir);
    const brokers = /^KAFKA_BROKERS=(.+)$/m.exec(output)?.[1];
    if (!brokers) throw new Error(`kafka-cluster.sh start printed no KAFKA_BROKERS:\n${output}`);
    return { brokers, kill: async (node) => void (await script$("kill", String(node), dir)), remove };
  } catch (error) {
    await remove().catch(() => {});
    throw error;
  }
}
