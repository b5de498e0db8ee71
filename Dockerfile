# openvle-rq: one image for every role; compose.yaml picks the command.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
COPY lua ./lua
# tsx stays (a dependency): it loads task modules and cron configs written in
# TypeScript, such as examples/tasks.ts. The image runs dist/, never src/.
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY bin ./bin
COPY lua ./lua
COPY examples ./examples
RUN ln -s /app/bin/openvle-rq /usr/local/bin/openvle-rq
USER node
# Warm shutdown on the first SIGTERM (docker stop), cold on the second.
STOPSIGNAL SIGTERM
ENTRYPOINT ["openvle-rq"]
CMD ["--help"]
