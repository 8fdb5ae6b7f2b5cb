-- pg_auto_failover monitor settings of the high-availability topology, applied by postgres-ha.sh
-- (loopback) and by scripts/services/ha/compose.yaml's monitor (scripts/services/ha/compose-monitor.sh).
-- Failover within seconds instead of the defaults' 30-60 s: a node is checked every second and
-- declared unhealthy after 3 s without a report and a failed check; the standby waits 3 s (not 30)
-- for a dead primary to demote itself before it promotes. Safe for acknowledged writes: the old
-- primary cannot acknowledge a commit without this standby (synchronous replication).
alter system set pgautofailover.health_check_period = 1000;
alter system set pgautofailover.health_check_timeout = 1000;
alter system set pgautofailover.health_check_max_retries = 1;
alter system set pgautofailover.health_check_retry_delay = 500;
alter system set pgautofailover.node_considered_unhealthy_timeout = 3000;
alter system set pgautofailover.primary_demote_timeout = 3000;
select pg_reload_conf();
