# openvle-rq: one image for every OpenVLE role. `openvle-rq serve` runs the
# role SERVICE_ROLE names (worker, worker-vm-clone, worker-periodic,
# worker-all, scheduler); compose.yaml sets it per service.

# ---- build: every dependency, TypeScript compiled to dist/ ----
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
RUN npm run build

# ---- production dependencies only ----
# A stage of its own so that no dev dependency (typescript, pino-pretty,
# test tools) is ever in the runtime image's layers.
FROM node:20-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# ---- runtime ----
FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    LOG_FORMAT=auto
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist/src ./dist/src
COPY package.json ./
COPY bin ./bin
COPY lua ./lua
# bin/openvle-rq runs dist/src/cli/main.js when it exists, as it does here;
# without src/ and tsconfig.json it never falls back to tsx.
RUN ln -s /app/bin/openvle-rq /usr/local/bin/openvle-rq
# The base image's unprivileged user (uid 1000); the app files stay root's,
# read-only to it.
USER node
# Warm shutdown on the first SIGTERM (docker stop): running jobs finish
# within the stop grace period (compose.yaml); cold on the second.
STOPSIGNAL SIGTERM
# Redis and MariaDB answer, and this container's worker (or, for
# SERVICE_ROLE=scheduler, its cron scheduler) is registered and heart-beating.
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
  CMD ["openvle-rq", "health"]
ENTRYPOINT ["openvle-rq"]
CMD ["serve"]
