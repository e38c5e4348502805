# syntax=docker/dockerfile:1
# pgferry's production image: compiled in a build stage from the lockfile, shipped with production
# dependencies only, run as the unprivileged `node` user. Nothing about the environment is baked
# in: every setting (hosts, credentials) comes from the container's environment at run time.
ARG NODE_IMAGE=node:20.20.2-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: no dependency needs an install script to build or run pgferry.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY core ./core
COPY pipeline ./pipeline
COPY sink ./sink
COPY ops ./ops
COPY migrate ./migrate
COPY cli ./cli
RUN npm run build

FROM ${NODE_IMAGE} AS production-deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

FROM ${NODE_IMAGE}
ENV NODE_ENV=production
# Bounds the V8 heap to what batches of the default BATCH_MAX_BYTES (16 MiB) need: 64 + 8 x 16 MiB
# (core/heap-limit.ts). Raise it with BATCH_MAX_BYTES.
ENV NODE_OPTIONS=--max-old-space-size=192
WORKDIR /app
COPY --from=production-deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY bin ./bin
COPY schemas ./schemas
USER node
EXPOSE 9464
# Node rather than curl: the slim image has no curl. Same port as METRICS_PORT (9464 by default).
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.METRICS_PORT || 9464) + '/healthz', { signal: AbortSignal.timeout(4000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "bin/pgferry.js"]
CMD ["run"]
