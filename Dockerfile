# syntax=docker/dockerfile:1
# The payment ledger service. Same environment variables and ports as the native setup (see
# README "Configuration"): the API on 8080 (HTTP/1.1 and h2c), Prometheus metrics on 9464.

# Build stage: compilers and -dev libraries for librdkafka (@confluentinc/kafka-javascript is
# linked against the system libraries, as in scripts/setup.sh), production dependencies only.
FROM node:20-bookworm-slim AS deps
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential python3 ca-certificates \
      zlib1g-dev libssl-dev libzstd-dev libcurl4-openssl-dev libsasl2-dev liblz4-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
# Applied by patch-package in postinstall (a dependency, not a dev one: the fixes are needed in production).
COPY patches ./patches
ENV CKJS_LINKING=dynamic
RUN npm ci --omit=dev --no-audit --no-fund

# Runtime stage: the shared libraries only, the code, and an unprivileged user.
FROM node:20-bookworm-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini ca-certificates \
      zlib1g libssl3 libzstd1 libcurl4 libsasl2-2 liblz4-1 \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json tsconfig.json ./
COPY gen ./gen
COPY drizzle ./drizzle
COPY src ./src
COPY scripts/start.mjs ./scripts/start.mjs
# The embedded database (used only when DATABASE_URL is unset) and its development key live here.
RUN mkdir -p /data /app/.tmp && chown node:node /data /app/.tmp
USER node
ENV HOST=0.0.0.0 \
    PORT=8080 \
    METRICS_HOST=0.0.0.0 \
    METRICS_PORT=9464 \
    PGLITE_DATA_DIR=/data/pglite
EXPOSE 8080 9464
# Ready means the API can work: database reachable and not draining (GET /readyz).
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+process.env.PORT+'/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# tini forwards SIGTERM so the service drains (health NOT_SERVING, in-flight requests finish).
ENTRYPOINT ["/usr/bin/tini", "--"]
# The same node flags as `npm start` (a 128 MB old generation keeps peak RSS under 256 MB; see the
# README's performance section); test/containers checks that the two agree.
CMD ["node", "--max-old-space-size=128", "--liftoff-only", "scripts/start.mjs"]
