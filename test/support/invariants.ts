/** Checks the ledger's accounting invariants straight from the tables. */
import assert from "node:assert/strict";
import { sql } from "drizzle-orm";
import { Value } from "typebox/value";
import type { Database } from "../../src/db/client.js";
import { envelopeSchemas } from "../../src/outbox/event-schemas.js";

type Row = Record<string, unknown>;

/** Runs raw SQL and returns plain row objects, whichever driver is underneath. */
export async function rows(db: Database, query: ReturnType<typeof sql>): Promise<Row[]> {
  const result = await db.execute(query);
  return Array.isArray(result) ? [...(result as Row[])] : (result as unknown as { rows: Row[] }).rows;
}

/**
 * - the entries of every currency sum to zero (double entry);
 * - every balance (ledger = available + held) equals the sum of its account's entries;
 * - no customer's available balance is below minus its overdraft limit;
 * - every transfer has exactly two entries of opposite sign (a split payment: the payer's and one per payee);
 * - a split payment's legs sum to its amount, captured and refunded totals, each within bounds, and
 *   each payee's entries of the payment and its refunds net to its leg's captured minus refunded;
 * - every held balance equals its hold movements and the open holds of its payments;
 * - every closed hold released all it held, and captured at most what it held;
 * - refunds never exceed what reached the payee, and refunded_cents is their sum;
 * - closed accounts hold nothing and have no statement line after their closing;
 * - every outbox envelope matches its TypeBox schema (the database writes them);
 * - every balance row carries its account's tenant, and no payment joins accounts of two tenants
 *   (funding accounts, the ledger's own, aside).
 */
export async function assertLedgerInvariants(db: Database): Promise<void> {
  const unbalanced = await rows(db, sql`select currency, sum(amount_cents)::text as total from ledger_entries group by currency having sum(amount_cents) <> 0`);
  assert.deepEqual(unbalanced, [], "entries of each currency sum to 0");

  const drifted = await rows(db, sql`
    select b.account_id, (b.available_cents + b.held_cents)::text as balance, coalesce(sum(e.amount_cents), 0)::text as entries
    from balances b left join ledger_entries e on e.account_id = b.account_id
    group by b.account_id, b.available_cents, b.held_cents
    having b.available_cents + b.held_cents <> coalesce(sum(e.amount_cents), 0)`);
  assert.deepEqual(drifted, [], "every balance equals the sum of its entries");

  const negative = await rows(db, sql`select account_id from balances where not allow_negative and available_cents < -overdraft_limit_cents`);
  assert.deepEqual(negative, [], "no customer balance is below minus its overdraft limit");

  // A split payment (and each of its refunds) is one transfer of the payer and one entry per payee
  // that received (gave back) a share.
  const lopsided = await rows(db, sql`
    select transfer_id from ledger_entries e group by transfer_id
    having sum(amount_cents) <> 0 or min(amount_cents) >= 0
        or count(*) <> 2 and not exists (select 1 from payment_splits l where l.payment_id = e.transfer_id
                                          or l.payment_id = (select r.payment_id from refunds r where r.id = e.transfer_id))`);
  assert.deepEqual(lopsided, [], "every transfer sums to zero: one debit and one credit, or a split payment's legs");

  const badSplits = await rows(db, sql`
    select p.id from payments p
    left join (select payment_id, sum(amount_cents) as amount, sum(captured_cents) as captured, sum(refunded_cents) as refunded,
                      bool_and(captured_cents between 0 and amount_cents and refunded_cents between 0 and captured_cents) as bounded
                 from payment_splits group by payment_id) l on l.payment_id = p.id
    left join payment_states s on s.payment_id = p.id
    where (p.payee_account_id is null) <> (l.payment_id is not null)
       or l.amount <> p.amount_cents or not l.bounded
       or l.captured <> coalesce(s.captured_cents, 0) or l.refunded <> coalesce(s.refunded_cents, 0)
       or exists (select 1 from payment_splits x where x.payment_id = p.id and
                  x.captured_cents - x.refunded_cents <> (select coalesce(sum(e.amount_cents), 0) from ledger_entries e
                    where e.account_id = x.payee_account_id
                      and (e.transfer_id = p.id or e.transfer_id in (select r.id from refunds r where r.payment_id = p.id))))`);
  assert.deepEqual(badSplits, [], "split legs sum to the amount and to the captured and refunded totals; each payee's entries are its leg's net");

  const heldDrift = await rows(db, sql`
    select b.account_id, b.held_cents::text as held,
      (select coalesce(sum(case kind when 'HELD' then amount_cents else -amount_cents end), 0) from hold_movements m
        where m.account_id = b.account_id)::text as movements,
      (select coalesce(sum(s.held_cents), 0) from payment_states s join payments p on p.id = s.payment_id
        where p.payer_account_id = b.account_id and s.status = 'REQUIRES_CAPTURE')::text as open_holds
    from balances b`);
  const drift = heldDrift.filter((r) => r.held !== r.movements || r.held !== r.open_holds);
  assert.deepEqual(drift, [], "held balance = hold movements = open holds");

  const badHolds = await rows(db, sql`
    select p.id, s.status from payments p join payment_states s on s.payment_id = p.id
    where p.capture_method = 'MANUAL' and (
      (s.status <> 'REQUIRES_CAPTURE' and (select coalesce(sum(case kind when 'HELD' then amount_cents else -amount_cents end), 0)
                                          from hold_movements m where m.payment_id = p.id) <> 0)
      or s.captured_cents > p.amount_cents
      or (s.status = 'CAPTURED') <> (s.captured_cents > 0)
      or (s.status = 'REQUIRES_CAPTURE' and s.held_cents <> p.amount_cents))`);
  assert.deepEqual(badHolds, [], "closed holds released everything; captures within the hold");

  const badRefunds = await rows(db, sql`
    select s.payment_id from payment_states s
    where s.refunded_cents > s.captured_cents
       or s.refunded_cents <> (select coalesce(sum(amount_cents), 0) from refunds r where r.payment_id = s.payment_id and r.status = 'REFUNDED')`);
  assert.deepEqual(badRefunds, [], "refunds within what was captured, refunded_cents is their sum");

  const untracked = await rows(db, sql`
    select p.id, p.status from payments p
    where (select t.status from payment_transitions t where t.payment_id = p.id order by t.id limit 1) is distinct from p.status
       or exists (select 1 from payment_transitions t where t.payment_id = p.id
                   and (t.payer_account_id, t.payee_account_id) is distinct from (p.payer_account_id, p.payee_account_id))
       or (p.status = 'DECLINED') <> (select count(*) = 1 from payment_transitions t where t.payment_id = p.id and p.status = 'DECLINED')`);
  assert.deepEqual(untracked, [], "every payment's first transition is its status at creation, declines have no other, all with the payment's accounts");

  const closedNotEmpty = await rows(db, sql`
    select b.account_id from balances b
    where b.closed_at is not null and (b.available_cents <> 0 or b.held_cents <> 0
      or exists (select 1 from ledger_entries e where e.account_id = b.account_id and e.created_at > b.closed_at)
      or exists (select 1 from hold_movements m where m.account_id = b.account_id and m.created_at > b.closed_at))`);
  assert.deepEqual(closedNotEmpty, [], "closed accounts hold nothing and have no line after their closing");

  const tenantDrift = await rows(db, sql`select b.account_id from balances b join accounts a on a.id = b.account_id where b.tenant_id <> a.tenant_id`);
  assert.deepEqual(tenantDrift, [], "every balance row carries its account's tenant");
  const crossTenant = await rows(db, sql`
    select p.id from payments p join accounts payer on payer.id = p.payer_account_id
     where exists (select 1 from accounts x where x.id in (select p.payee_account_id union all select l.payee_account_id from payment_splits l where l.payment_id = p.id)
                     and x.tenant_id <> payer.tenant_id and not x.is_funding)`);
  assert.deepEqual(crossTenant, [], "no payment joins accounts of two tenants");

  const envelopes = await rows(db, sql`select event_type, envelope from outbox`);
  for (const { event_type: type, envelope } of envelopes) {
    const schema = envelopeSchemas[type as keyof typeof envelopeSchemas];
    assert.ok(schema, `known event type ${String(type)}`);
    const [first] = Value.Errors(schema, envelope);
    assert.equal(first, undefined, `${String(type)} envelope matches its schema: ${first?.instancePath} ${first?.message} in ${JSON.stringify(envelope)}`);
  }
}

/** Counts rows of a table (for "nothing was written" checks). */
export async function countRows(db: Database, table: string): Promise<number> {
  const [row] = await rows(db, sql.raw(`select count(*)::int as n from ${table}`));
  return Number(row!.n);
}
