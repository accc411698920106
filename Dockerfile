# syntax=docker/dockerfile:1
# Multi-stage build: compile TypeScript with dev dependencies, then ship only dist/, production
# dependencies, templates and the PocketBase migration on Node 24 LTS, as a non-root user.
# Builds on amd64 and arm64: no stage installs the optional PocketBase test binary (a Linux x64
# package only the tests and the demo use), and no production dependency is native.

# The compiled JavaScript is the same on every platform, so this stage runs on the build host's.
FROM --platform=$BUILDPLATFORM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=optional --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
COPY reconcilers ./reconcilers
COPY bench ./bench
RUN npx tsc -p tsconfig.json

FROM node:24-bookworm-slim AS prod-deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --omit=optional --no-audit --no-fund && npm cache clean --force

FROM node:24-bookworm-slim
# V8 sizes its heap for the machine it runs on: on a large host it lets a daemon with 50 MiB of
# live objects (10,000 stacks) grow to 300 MiB and more before collecting. These bounds keep it
# near 130 MiB while idle at 10,000 stacks, at the cost of more frequent collections (README,
# Performance; `npm run bench` runs the daemon with them). The old-space cap is a ceiling, not a target: it covers about 30,000
# stacks; raise it (and the container's memory limit, at least 128 MiB above it) for more.
ENV NODE_ENV=production \
    TEMPLATES_DIR=/app/templates \
    HTTP_ADDR=0.0.0.0:9464 \
    NODE_OPTIONS="--max-old-space-size=256 --max-semi-space-size=4"
WORKDIR /app
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /app/dist/src ./dist/src
COPY --from=build /app/dist/reconcilers ./dist/reconcilers
COPY package.json ./
COPY templates ./templates
# The schema migration ships with the image so it can be copied into PocketBase's pb_migrations.
COPY pocketbase/pb_migrations ./pocketbase/pb_migrations
USER node
EXPOSE 9464
# /healthz answers from the moment the process starts, whatever PocketBase and Coolify do; Node's
# fetch keeps the image free of curl.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "const a=(process.env.HTTP_ADDR||'127.0.0.1:9464').replace(/^0\\.0\\.0\\.0:/,'127.0.0.1:');fetch('http://'+a+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# node is PID 1's direct command (no npm/npx wrapper), so SIGTERM reaches the daemon and in-flight
# reconciles finish before exit (give it a stop timeout of at least 40 s).
ENTRYPOINT ["node", "dist/src/cli.js"]
CMD ["run"]
