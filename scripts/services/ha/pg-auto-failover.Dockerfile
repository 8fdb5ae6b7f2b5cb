# syntax=docker/dockerfile:1
# PostgreSQL 15 with pg_auto_failover, for scripts/services/ha/compose.yaml's monitor and nodes: the same Debian
# packages scripts/setup.d/pg-auto-failover.sh installs for postgres-ha.sh.
FROM postgres:15-bookworm
RUN apt-get update \
 && apt-get install -y --no-install-recommends postgresql-15-auto-failover pg-auto-failover-cli \
 && rm -rf /var/lib/apt/lists/* \
 && install -d -o postgres -g postgres /var/lib/postgresql/pgaf
USER postgres
# pg_autoctl keeps its configuration and state under the XDG directories: on the volume with the
# data directory (as postgres-ha.sh keeps them in its DIR), so a recreated container finds them.
ENV PGDATA=/var/lib/postgresql/pgaf/data \
    XDG_CONFIG_HOME=/var/lib/postgresql/pgaf/config \
    XDG_DATA_HOME=/var/lib/postgresql/pgaf/share \
    PATH=/usr/lib/postgresql/15/bin:$PATH
WORKDIR /var/lib/postgresql
