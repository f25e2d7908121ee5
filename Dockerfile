# syntax=docker/dockerfile:1
# evosync: multi-stage build on node:20-slim. The build stage has the toolchain better-sqlite3
# needs when no prebuilt binary matches; the runtime stage has only the compiled output and the
# production dependencies, and runs as the unprivileged `node` user.

FROM node:20-slim AS build
WORKDIR /app
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
# Install scripts stay on: better-sqlite3 builds (or fetches) its native addon here.
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY sim ./sim
COPY bench ./bench
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund

FROM node:20-slim AS runtime
ENV NODE_ENV=production \
    EVOSYNC_HOST=0.0.0.0 \
    EVOSYNC_PORT=8090 \
    EVOSYNC_DATABASE_URL=sqlite:/data/evosync.db
WORKDIR /app
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# The SQLite ledger lives on a volume the node user owns (unused with a postgres:// ledger).
RUN mkdir -p /data && chown node:node /data
VOLUME ["/data"]
USER node
EXPOSE 8090
# Liveness only (/healthz has no dependencies); orchestrators use /readyz for traffic.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.EVOSYNC_PORT || 8090) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# node is PID 1 and evosync handles SIGTERM itself (ordered shutdown); a second signal forces exit.
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "dist/src/bin/evosync.js"]
CMD ["start"]
