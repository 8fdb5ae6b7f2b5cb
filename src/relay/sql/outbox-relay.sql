-- The relay's two statements per batch (src/relay/outbox-store.ts): claim due rows, then record
-- what the broker said about every one of them, so a batch costs the same four statements (with
-- BEGIN and COMMIT) whatever its size. Re-applied by migrate like the ledger's functions.

-- Locks up to p_limit due rows for the calling transaction and returns them.
--
-- Per-aggregate order across any number of relay instances rests on two rules:
-- 1. Only the oldest pending row of an aggregate is claimable (the subquery). A later row of the
--    same aggregate stays unclaimable until the earlier one is published or dead-lettered and that
--    is committed, whoever holds it, however long it is in backoff.
-- 2. A row is marked published only after its delivery report, in the transaction that holds its
--    lock (outbox_finish). So when the next row of an aggregate becomes claimable, its predecessor
--    is on the broker, and the key's messages reach their partition in outbox id order, which is
--    commit order per aggregate (writers hold the aggregate's balance row lock).
-- SKIP LOCKED lets instances share the work: each skips the rows another one holds.
--
-- "Oldest pending" is `id = (... order by id limit 1)` rather than NOT EXISTS: always a per-row
-- probe of outbox_pending_aggregate_idx, where the anti-join without fresh statistics became a
-- scan of every pending row per candidate. Sorting is off for the function (its SET clause):
-- with a backlog the planner otherwise sorted every pending row to keep the first p_limit, a cost
-- that grew with the backlog (docs/relay.md); without it the claim walks outbox_pending_idx in
-- order and stops at p_limit.
--
-- The envelope leaves as text: the relay sends it as the message value unchanged.
create or replace function outbox_claim(p_limit integer)
returns table (
  id text, event_id text, event_type text, aggregate_type text, aggregate_id text,
  envelope text, traceparent text, created_at_ms double precision, attempts integer
)
language sql volatile
set enable_sort = off
as $$
  select o.id::text, o.event_id, o.event_type, o.aggregate_type, o.aggregate_id, o.envelope::text,
         o.traceparent, extract(epoch from o.created_at)::double precision * 1000, o.attempts
    from outbox o
   where o.published_at is null and o.dead_at is null
     and o.next_attempt_at <= clock_timestamp()
     and o.id = (select e.id from outbox e
                  where e.aggregate_id = o.aggregate_id and e.published_at is null and e.dead_at is null
                  order by e.id limit 1)
   order by o.next_attempt_at, o.id
   limit p_limit
     for update of o skip locked
$$;

-- Records a batch's outcome (the BatchOutcome shape of src/relay/outbox-store.ts):
--   published: ids the broker acknowledged; failed: {id, retryInMs, error} to try again later;
--   dead: {id, error} whose dead-letter record the broker acknowledged.
-- Returns whether an aggregate of a published or dead row has a later row pending (publishing made
-- it claimable and no notification will say so: the relay claims again at once), and how long
-- until the earliest row in backoff is due (null: none), so the relay needs no query to know when
-- to wake up.
create or replace function outbox_finish(p_outcome jsonb)
returns table (successors_pending boolean, next_retry_ms double precision)
language plpgsql volatile
as $$
declare
  v_published bigint[] := array(select jsonb_array_elements_text(p_outcome->'published')::bigint);
  v_more boolean := false;
begin
  if cardinality(v_published) > 0 then
    -- The outer query reads the snapshot before the update: a later pending row of a published
    -- row's aggregate is still pending there (one row per aggregate is claimed). committed_at: in
    -- an UPDATE, xmin is the old row version's, i.e. the writer's (claiming made no new version).
    with done as (
      update outbox o
         set published_at = clock_timestamp(),
             committed_at = case when current_setting('track_commit_timestamp') = 'on'
                                 then pg_xact_commit_timestamp(o.xmin) end
       where o.id = any(v_published)
      returning o.id, o.aggregate_id
    )
    select exists (
      select 1 from done d join outbox o on o.aggregate_id = d.aggregate_id and o.id > d.id
       where o.published_at is null and o.dead_at is null
    ) into v_more;
  end if;

  update outbox o
     set attempts = o.attempts + 1,
         next_attempt_at = clock_timestamp() + (f->>'retryInMs')::double precision * interval '1 millisecond',
         last_error = f->>'error'
    from jsonb_array_elements(p_outcome->'failed') f
   where o.id = (f->>'id')::bigint;

  update outbox o
     set dead_at = clock_timestamp(), attempts = o.attempts + 1, last_error = d->>'error'
    from jsonb_array_elements(p_outcome->'dead') d
   where o.id = (d->>'id')::bigint;
  -- A dead-lettered row unblocks its aggregate's next row too.
  v_more := v_more or jsonb_array_length(p_outcome->'dead') > 0;

  return query select v_more, outbox_next_retry_ms();
end
$$;

-- Milliseconds until the earliest row waiting for its backoff becomes due; null when none waits.
-- Rows already due but not claimable (behind an earlier event of their aggregate, or held by
-- another relay) do not count: waking up for them would spin on empty claims.
create or replace function outbox_next_retry_ms()
returns double precision
language sql volatile
as $$
  -- No row waiting: no row here, so the function answers null (greatest() would turn null into 0).
  select greatest(0, extract(epoch from due.at - clock_timestamp()) * 1000)::double precision
    from (select min(o.next_attempt_at) as at from outbox o
           where o.published_at is null and o.dead_at is null and o.next_attempt_at > clock_timestamp()) due
   where due.at is not null
$$;
