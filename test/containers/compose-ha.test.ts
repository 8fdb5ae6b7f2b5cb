/**
 * scripts/services/ha/compose.yaml against scripts/services/ha/ (what `npm run ha` and the failover test run): no
 * Docker engine runs here, so the two are checked to describe the same topology with the same
 * settings: the brokers' properties, the keepers' flags, the monitor's failover timings (one file),
 * the packages, and the service's multi-host DATABASE_URL and broker list.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { it } from "node:test";
import { parse } from "yaml";
import { ConfigSchema } from "../../src/config/config.js";

interface ComposeService {
  image?: string;
  build?: string | { context: string; dockerfile: string };
  environment?: Record<string, string | number>;
  healthcheck?: { test: unknown };
  depends_on?: Record<string, { condition: string }>;
  command?: string[];
  volumes?: string[];
  ports?: string[];
}
type Compose = { services: Record<string, ComposeService> };

const read = (path: string) => readFileSync(path, "utf8");
const ha = parse(read("scripts/services/ha/compose.yaml"), { merge: true }) as Compose;
const single = parse(read("compose.yaml"), { merge: true }) as Compose;
const kafkaScript = read("scripts/services/ha/kafka-cluster.sh");
const postgresScript = read("scripts/services/ha/postgres-ha.sh");
const BROKERS = ["kafka1", "kafka2", "kafka3"];

/** kafka-cluster.sh's server.properties: key -> value (values with shell variables are per node). */
function brokerProperties(): Map<string, string> {
  const heredoc = /server\.properties" <<PROPS\n([\s\S]*?)\nPROPS/.exec(kafkaScript);
  assert.ok(heredoc, "kafka-cluster.sh writes server.properties from a heredoc");
  const lines = heredoc[1]!.split("\n").filter((line) => line && !line.startsWith("#"));
  return new Map(lines.map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)]));
}
/** The apache/kafka image's form of a property: KAFKA_ and the name upper-cased, dots as underscores. */
const variableOf = (property: string) => `KAFKA_${property.toUpperCase().replaceAll(".", "_")}`;

it("scripts/services/ha/compose.yaml runs the monitor, two nodes, three brokers, Redis, the migration and the service", () => {
  assert.deepEqual(Object.keys(ha.services).sort(), ["kafka1", "kafka2", "kafka3", "ledger", "migrate", "pg-monitor", "pg-node1", "pg-node2", "redis"]);
  for (const [name, service] of Object.entries(ha.services)) {
    for (const [dependency, { condition }] of Object.entries(service.depends_on ?? {})) {
      if (condition === "service_healthy") assert.ok(ha.services[dependency]?.healthcheck, `${name} waits on ${dependency}, which has a health check`);
      else assert.equal(condition, "service_completed_successfully", `${name} waits on ${dependency}`);
    }
  }
  assert.deepEqual(Object.keys(ha.services.ledger!.depends_on!).sort(), ["kafka1", "kafka2", "kafka3", "migrate", "redis"]);
  assert.deepEqual(ha.services["pg-node2"]!.depends_on, { "pg-node1": { condition: "service_healthy" } }, "the standby registers after the primary");
});

it("every broker has kafka-cluster.sh's properties, with its own id", () => {
  const properties = brokerProperties();
  const perNode = new Set(["node.id", "controller.quorum.voters", "listeners", "advertised.listeners", "log.dirs"]);
  assert.deepEqual([...perNode].filter((p) => !properties.has(p)), [], "kafka-cluster.sh still sets the per-node properties");
  BROKERS.forEach((name, index) => {
    const broker = ha.services[name]!;
    assert.equal(broker.image, single.services.kafka!.image, `${name}: the image of compose.yaml`);
    const env = broker.environment!;
    for (const [property, value] of properties) {
      if (perNode.has(property)) continue;
      assert.equal(String(env[variableOf(property)]), value, `${name}: ${property}`);
    }
    assert.equal(env.KAFKA_NODE_ID, index + 1);
    assert.equal(env.KAFKA_CONTROLLER_QUORUM_VOTERS, BROKERS.map((host, i) => `${i + 1}@${host}:9093`).join(","));
    assert.equal(env.KAFKA_ADVERTISED_LISTENERS, `PLAINTEXT://${name}:9092`);
  });
});

it("the nodes' keepers and the monitor are set up as postgres-ha.sh sets them up", () => {
  // The keeper flags that decide replication and access, from postgres-ha.sh's create command.
  const create = /pgautoctl create postgres ([\s\S]*?)>"\$dir/.exec(postgresScript)?.[1] ?? "";
  for (const flag of ["--auth trust", "--no-ssl", "--replication-quorum true"]) assert.ok(create.includes(flag), `postgres-ha.sh: ${flag}`);
  for (const name of ["pg-node1", "pg-node2"]) {
    const command = ha.services[name]!.command!.join(" ");
    for (const flag of ["pg_autoctl create postgres", "--auth trust", "--no-ssl", "--replication-quorum true", "--monitor 'postgres://autoctl_node@pg-monitor:5432/pg_auto_failover", "--run"]) {
      assert.ok(command.includes(flag), `${name}: ${flag}`);
    }
    assert.equal(ha.services[name]!.environment!.NODE_HOST, name);
  }
  // One file of failover timings, applied by both.
  assert.match(postgresScript, /-f "\$root\/scripts\/services\/ha\/monitor-settings\.sql"/);
  assert.ok(ha.services["pg-monitor"]!.volumes!.includes("./monitor-settings.sql:/ha/monitor-settings.sql:ro"));
  assert.match(read("scripts/services/ha/compose-monitor.sh"), /-f \/ha\/monitor-settings\.sql/);
  assert.match(read("scripts/services/ha/compose-monitor.sh"), /pg_autoctl create monitor --auth trust --no-ssl /);
  // The image installs the packages setup installs for postgres-ha.sh.
  const packages = /apt_install (.+)$/m.exec(read("scripts/setup.d/pg-auto-failover.sh"))![1]!.split(" ");
  const dockerfile = read("scripts/services/ha/pg-auto-failover.Dockerfile");
  for (const name of packages) assert.match(dockerfile, new RegExp(`install .*${name}`), name);
});

it("the service gets both nodes (read-write) and the three brokers, and otherwise compose.yaml's settings", () => {
  const ledger = ha.services.ledger!.environment!;
  const known = new Set(Object.keys(ConfigSchema.properties));
  for (const service of ["ledger", "migrate"]) {
    for (const variable of Object.keys(ha.services[service]!.environment!)) assert.ok(known.has(variable), `${service}: ${variable} is not in ConfigSchema`);
  }
  // postgres-ha.sh prints the same shape: every node, target_session_attrs=read-write.
  assert.match(postgresScript, /DATABASE_URL=postgres:\/\/postgres@127\.0\.0\.1:\$\(node_port node1\),127\.0\.0\.1:\$\(node_port node2\)\/postgres\?target_session_attrs=read-write/);
  const url = new URL(String(ledger.DATABASE_URL).replace(",pg-node2:5432", ""));
  assert.equal(url.searchParams.get("target_session_attrs"), "read-write");
  assert.match(String(ledger.DATABASE_URL), /@pg-node1:5432,pg-node2:5432\//);
  assert.equal(ha.services.migrate!.environment!.DATABASE_URL, ledger.DATABASE_URL);
  assert.equal(ledger.KAFKA_BROKERS, BROKERS.map((host) => `${host}:9092`).join(","));
  assert.equal(String(ledger.KAFKA_REPLICATION_FACTOR), brokerProperties().get("default.replication.factor"));
  assert.match(read("scripts/services/ha/dev.sh"), /KAFKA_REPLICATION_FACTOR=3/);
  const differing = Object.entries(single.services.ledger!.environment!)
    .filter(([name, value]) => !["DATABASE_URL", "KAFKA_BROKERS"].includes(name) && ledger[name] !== value)
    .map(([name]) => name);
  assert.deepEqual(differing, [], "settings that differ from compose.yaml's ledger");
  assert.deepEqual(ha.services.ledger!.ports, single.services.ledger!.ports);
});
