/**
 * Service configuration, read from environment variables and validated by one TypeBox schema.
 * Every invalid variable yields its own message; `loadConfig` throws them all at once so that
 * the operator fixes everything in one go.
 */
import { Type, type Static } from "typebox";
import { Value } from "typebox/value";
import { readUrlProblems, writeUrlProblems } from "./database-url.js";

/**
 * Connection timeouts of the one-port server (src/server/one-port.ts takes its defaults from here).
 * 10 s to send the first bytes is ample for any client and short enough that silent sockets do not
 * pile up; 120 s of HTTP/2 idleness outlasts the usual client keep-alive pings (gRPC's default is
 * none at all, browsers keep connections for minutes).
 */
export const CONNECTION_TIMEOUT_DEFAULTS = { sniffTimeoutMs: 10_000, http2IdleTimeoutMs: 120_000 } as const;

const port = (fallback: number, description: string) =>
  Type.Integer({ minimum: 0, maximum: 65535, default: fallback, description });
const positiveInt = (fallback: number, description: string) =>
  Type.Integer({ minimum: 1, default: fallback, description });
const oneOf = (values: string[], fallback: string) =>
  Type.Union(
    values.map((v) => Type.Literal(v)),
    { default: fallback, errorMessage: `must be one of ${values.join(", ")}` },
  );

/**
 * Bounds of a manual-capture hold's lifetime, for the configured default and for each request: a
 * hold cannot stay open for more than 30 days, nor vanish before a capture can reach it.
 */
export const HOLD_EXPIRES_IN_BOUNDS = { minSeconds: 60, maxSeconds: 30 * 24 * 3600 };

/** Each property is one environment variable. */
export const ConfigSchema = Type.Object({
  HOST: Type.String({ default: "127.0.0.1", minLength: 1, description: "Address the API port binds to" }),
  PORT: port(8080, "The one port for HTTP/1.1 and HTTP/2"),
  DATABASE_URL: Type.Optional(
    Type.String({
      pattern: "^postgres(ql)?://",
      description: "PostgreSQL URL; several hosts (h1:p1,h2:p2) need target_session_attrs=read-write; embedded PGlite when unset",
    }),
  ),
  READ_DATABASE_URL: Type.Optional(
    Type.String({
      pattern: "^postgres(ql)?://",
      description: "A replica (or several hosts) for lists, statements, as-of balances and verification; needs DATABASE_URL",
    }),
  ),
  READ_MAX_STALENESS_MS: positiveInt(1_000, "Reads use the replica only while it is at most this far behind the primary"),
  PGLITE_DATA_DIR: Type.String({ default: ".data/pglite", minLength: 1, description: "Where PGlite keeps data" }),
  DB_POOL_SIZE: positiveInt(20, "PostgreSQL connections"),
  DB_STARTUP_TIMEOUT_MS: positiveInt(60_000, "How long start-up waits for an unreachable database before exiting"),
  IDEMPOTENCY_TTL_HOURS: positiveInt(24, "How long keys are kept"),
  OUTBOX_RETENTION_HOURS: positiveInt(168, "How long published outbox rows are kept"),
  LOG_LEVEL: oneOf(["fatal", "error", "warn", "info", "debug", "trace", "silent"], "info"),
  READ_MAX_BYTES: positiveInt(1_048_576, "Largest request body"),
  MAX_TIMEOUT_MS: positiveInt(30_000, "Cap on client deadlines"),
  SHUTDOWN_TIMEOUT_MS: positiveInt(10_000, "Drain time on SIGTERM"),
  SNIFF_TIMEOUT_MS: positiveInt(CONNECTION_TIMEOUT_DEFAULTS.sniffTimeoutMs, "A new connection must send its first bytes within this time, or it is closed"),
  HTTP2_IDLE_TIMEOUT_MS: positiveInt(CONNECTION_TIMEOUT_DEFAULTS.http2IdleTimeoutMs, "An HTTP/2 session with no frames for this long is closed"),
  TLS_CERT_FILE: Type.Optional(Type.String({ minLength: 1, description: "PEM certificate; enables TLS" })),
  TLS_KEY_FILE: Type.Optional(Type.String({ minLength: 1, description: "PEM private key; enables TLS" })),
  // Outbox relay to Kafka (src/relay): off while KAFKA_BROKERS is unset.
  KAFKA_BROKERS: Type.Optional(
    Type.String({ pattern: "^[^,\\s]+:[0-9]+(,[^,\\s]+:[0-9]+)*$", description: "host:port[,host:port]; enables the relay" }),
  ),
  KAFKA_TOPIC_PREFIX: Type.String({ default: "payments", pattern: "^[A-Za-z0-9._-]+$", description: "Topics are PREFIX.event-type and PREFIX.dlq" }),
  KAFKA_TOPIC_PARTITIONS: positiveInt(3, "Partitions of topics the relay creates"),
  KAFKA_REPLICATION_FACTOR: positiveInt(1, "Replication factor of topics the relay creates"),
  KAFKA_DELIVERY_TIMEOUT_MS: positiveInt(10_000, "How long a send may wait for the broker"),
  // 1,000: one relay drained a 20,000-event backlog at 8,600 events/s against 6,200/s with 200
  // (npm run bench:relay, same machine, back to back); latency at low rates is the same (batches
  // are small then). The batch API commits up to 1,000 events at once.
  RELAY_BATCH_SIZE: positiveInt(1_000, "Outbox rows claimed per relay transaction"),
  RELAY_POLL_INTERVAL_MS: positiveInt(1_000, "Fallback poll when no NOTIFY arrives"),
  RELAY_LINGER_MS: Type.Integer({ minimum: 0, maximum: 1_000, default: 65, description: "Claim at most once per this window while commits keep coming; the first commit after a quiet spell is claimed at once (0: no window)" }),
  RELAY_MAX_ATTEMPTS: positiveInt(8, "Failed attempts before an undeliverable event is dead-lettered"),
  RELAY_BACKOFF_BASE_MS: positiveInt(200, "First retry delay (exponential, jittered)"),
  RELAY_BACKOFF_MAX_MS: positiveInt(30_000, "Longest retry delay"),
  RELAY_BREAKER_THRESHOLD: positiveInt(3, "Consecutive failed batches that open the circuit"),
  RELAY_BREAKER_COOLDOWN_MS: positiveInt(1_000, "First pause before probing the broker again"),
  RELAY_BREAKER_MAX_COOLDOWN_MS: positiveInt(30_000, "Longest pause between probes"),
  SHUTDOWN_DRAIN_DELAY_MS: Type.Integer({
    minimum: 0,
    default: 0,
    description: "Time health reports NOT_SERVING before the port closes, so load balancers move away",
  }),
  // Payment lifecycle (src/ledger/payments.ts, src/ledger/hold-expiry.ts).
  HOLD_EXPIRES_IN_SECONDS: Type.Integer({
    minimum: HOLD_EXPIRES_IN_BOUNDS.minSeconds,
    maximum: HOLD_EXPIRES_IN_BOUNDS.maxSeconds,
    default: 604_800,
    description: "Default lifetime of a manual-capture hold (60 s to 30 days; requests may ask for less or more within that)",
  }),
  HOLD_SWEEP_INTERVAL_MS: positiveInt(5_000, "How often expired holds are released"),
  // Edge: authentication, rate limits, CORS, metrics (composed in src/server/edge.ts).
  API_KEYS: Type.Optional(
    Type.String({ minLength: 1, description: "API key entries client:scope+scope:sha256hex, comma or newline separated" }),
  ),
  API_KEYS_FILE: Type.Optional(Type.String({ minLength: 1, description: "File of API key entries, one a line" })),
  TOKEN_SIGNING_KEYS: Type.Optional(
    Type.String({
      minLength: 1,
      description: "Account token signing keys kid:secret (HS256, secret >= 32 bytes base64url), comma separated; the first signs, all verify",
    }),
  ),
  AUTH_DISABLED: Type.Boolean({
    default: false,
    errorMessage: "must be true or false",
    description: "Serve without authentication (closed networks and tests only)",
  }),
  REDIS_URL: Type.Optional(
    Type.String({
      pattern: "^rediss?://",
      errorMessage: "must start with redis:// or rediss://",
      description: "Redis for shared rate limits; in-memory limits when unset",
    }),
  ),
  RATE_LIMIT_POINTS: Type.Integer({
    minimum: 0,
    default: 1000,
    description: "Requests per window per client and method; 0 turns rate limiting off",
  }),
  RATE_LIMIT_WINDOW_SECONDS: positiveInt(1, "Rate limit window"),
  RATE_LIMIT_TENANT_POINTS: Type.Integer({
    minimum: 0,
    default: 0,
    description: "Requests per window per tenant, all its clients and methods together; 0 turns the tenant limit off",
  }),
  RATE_LIMIT_TENANTS: Type.String({
    default: "",
    pattern: "^$|^[a-z0-9_-]{1,64}=[0-9]+(,[a-z0-9_-]{1,64}=[0-9]+)*$",
    errorMessage: "must look like acme=5000,default=20000",
    description: "Per-tenant overrides of RATE_LIMIT_TENANT_POINTS (0: unlimited)",
  }),
  RATE_LIMIT_METHODS: Type.String({
    default: "",
    pattern: "^$|^[A-Za-z0-9_./]+=[0-9]+(,[A-Za-z0-9_./]+=[0-9]+)*$",
    errorMessage: "must look like AuthorizePayment=50,CreateAccount=10",
    description: "Per-method overrides of RATE_LIMIT_POINTS",
  }),
  CORS_ORIGINS: Type.String({ default: "", description: "Browser origins allowed to call the API, comma separated, or *" }),
  METRICS_HOST: Type.String({ default: "127.0.0.1", minLength: 1, description: "Address the Prometheus port binds to" }),
  METRICS_PORT: port(9464, "Prometheus metrics port (GET /metrics)"),
});

export type Config = Static<typeof ConfigSchema>;

/** Thrown when the environment does not describe a valid configuration; one line per problem. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  - ${problems.join("\n  - ")}`);
    this.name = "ConfigError";
  }
}

/** Reads, converts and validates the configuration from `env` (defaults filled in). */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const raw: Record<string, unknown> = {};
  for (const [key, schema] of Object.entries(ConfigSchema.properties)) {
    const value = env[key];
    if (value === undefined || value === "") continue;
    // Only whole decimal numbers become integers; "1.5" or "8080x" stay strings and fail validation
    // (TypeBox's own conversion would silently truncate them).
    const type = (schema as { type?: string }).type;
    if (type === "integer" && /^-?[0-9]+$/.test(value)) raw[key] = Number(value);
    else if (type === "boolean" && (value === "true" || value === "false")) raw[key] = value === "true";
    else raw[key] = value;
  }
  const candidate = Value.Default(ConfigSchema, raw);
  const problems = Value.Errors(ConfigSchema, candidate).map((error) => {
    const name = error.instancePath.replace(/^\//, "").split("/")[0]!;
    const shown = name in raw && !/URL|KEY|SECRET|PASSWORD/.test(name) ? ` (got ${JSON.stringify(env[name])})` : "";
    const schema = ConfigSchema.properties[name as keyof Config] as { errorMessage?: string } | undefined;
    const message = schema?.errorMessage ?? error.message;
    return `${name}: ${message}${shown}`;
  });
  const config = candidate as Config;
  if (Boolean(config.TLS_CERT_FILE) !== Boolean(config.TLS_KEY_FILE)) {
    problems.push("TLS_CERT_FILE and TLS_KEY_FILE: set both to enable TLS, or neither");
  }
  if (config.DATABASE_URL && problems.every((problem) => !problem.startsWith("DATABASE_URL"))) {
    for (const problem of writeUrlProblems(config.DATABASE_URL)) problems.push(`DATABASE_URL: ${problem}`);
  }
  if (config.READ_DATABASE_URL && problems.every((problem) => !problem.startsWith("READ_DATABASE_URL"))) {
    if (!config.DATABASE_URL) problems.push("READ_DATABASE_URL: needs DATABASE_URL (the embedded PGlite has no replicas)");
    for (const problem of readUrlProblems(config.READ_DATABASE_URL)) problems.push(`READ_DATABASE_URL: ${problem}`);
  }
  if (config.AUTH_DISABLED && (config.API_KEYS || config.API_KEYS_FILE)) {
    problems.push("AUTH_DISABLED: cannot be true while API_KEYS or API_KEYS_FILE is set");
  }
  // A union reports once per member; keep one line per problem.
  if (problems.length > 0) throw new ConfigError([...new Set(problems)]);
  return config;
}

/** For command-line entry points: the configuration, or its problems on stderr and exit code 2. */
export function loadConfigOrExit(env: NodeJS.ProcessEnv = process.env): Config {
  try {
    return loadConfig(env);
  } catch (error) {
    return exitOnConfigError(error);
  }
}

/** For command-line entry points: prints a ConfigError's problems and exits 2; rethrows anything else. */
export function exitOnConfigError(error: unknown): never {
  if (!(error instanceof ConfigError)) throw error;
  console.error(error.message);
  process.exit(2);
}
