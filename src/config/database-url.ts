/**
 * PostgreSQL URLs with one host or several (`postgres://u@h1:5432,h2:5432/db?target_session_attrs=read-write`,
 * libpq's multi-host form, which postgres.js follows). WHATWG `URL` refuses a host list, so the
 * hosts are split off first and the rest is parsed as a URL.
 */

export interface DatabaseUrl {
  /** `host:port` (or `host`) of every server named, in order. */
  hosts: string[];
  database: string;
  params: URLSearchParams;
}

const SHAPE = /^(postgres(?:ql)?:\/\/)([^@/?#]*@)?([^/?#]*)(.*)$/;

/** The parts of `url`, or undefined when it is not a PostgreSQL URL. */
export function parseDatabaseUrl(url: string): DatabaseUrl | undefined {
  const match = SHAPE.exec(url);
  if (!match) return undefined;
  const [, scheme, userinfo = "", hostList = "", rest = ""] = match;
  try {
    const parsed = new URL(`${scheme}${userinfo}placeholder${rest}`);
    const hosts = hostList.split(",").filter((host) => host !== "");
    return { hosts, database: decodeURIComponent(parsed.pathname.slice(1)), params: parsed.searchParams };
  } catch {
    return undefined;
  }
}

/** `url` naming database `name` instead (hosts, user and parameters kept). */
export function withDatabaseName(url: string, name: string): string {
  const match = SHAPE.exec(url);
  if (!match) throw new Error("not a PostgreSQL URL");
  const [, scheme, userinfo = "", hostList = "", rest = ""] = match;
  const query = rest.indexOf("?");
  return `${scheme}${userinfo}${hostList}/${encodeURIComponent(name)}${query >= 0 ? rest.slice(query) : ""}`;
}

/** target_session_attrs values that route every connection to the primary. */
const PRIMARY_ONLY = ["read-write", "primary"];
/** Every value libpq (and postgres.js) knows. */
const KNOWN_ATTRS = ["any", "read-write", "read-only", "primary", "standby", "prefer-standby"];

/**
 * Problems of a write-side URL (DATABASE_URL), each a sentence. Several hosts without
 * target_session_attrs=read-write (or primary) would let writes reach a standby, so that is refused.
 */
export function writeUrlProblems(url: string): string[] {
  const parsed = parseDatabaseUrl(url);
  if (!parsed) return ["is not a PostgreSQL URL (postgres://user:password@host:port[,host:port...]/database)"];
  const attrs = parsed.params.get("target_session_attrs");
  const problems: string[] = [];
  if (parsed.hosts.length > 1 && !(attrs && PRIMARY_ONLY.includes(attrs))) {
    problems.push(
      `names ${parsed.hosts.length} hosts but not target_session_attrs=read-write: add ?target_session_attrs=read-write so that only the primary is used for writes`,
    );
  } else if (attrs && !KNOWN_ATTRS.includes(attrs)) {
    problems.push(`target_session_attrs=${attrs} is not one of ${KNOWN_ATTRS.join(", ")}`);
  } else if (attrs && !PRIMARY_ONLY.includes(attrs) && attrs !== "any") {
    problems.push(`target_session_attrs=${attrs} would send writes to a standby: use read-write (or leave it out with one host)`);
  }
  return problems;
}

/** Problems of a read-side URL (READ_DATABASE_URL): any server will do, standbys included. */
export function readUrlProblems(url: string): string[] {
  const parsed = parseDatabaseUrl(url);
  if (!parsed) return ["is not a PostgreSQL URL (postgres://user:password@host:port[,host:port...]/database)"];
  const attrs = parsed.params.get("target_session_attrs");
  if (attrs && !KNOWN_ATTRS.includes(attrs)) return [`target_session_attrs=${attrs} is not one of ${KNOWN_ATTRS.join(", ")}`];
  return [];
}
