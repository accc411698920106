# syntax=docker/dockerfile:1
# Multi-stage build: compile TypeScript with dev dependencies, then ship only dist/, production
# dependencies and templates on a supported Node LTS, as a non-root user.

FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# The PocketBase test binary (a devDependency) is not needed to compile; skip optional platform extras.
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
COPY reconcilers ./reconcilers
COPY bench ./bench
RUN npx tsc -p tsconfig.json

FROM node:24-bookworm-slim AS prod-deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

FROM node:24-bookworm-slim
ENV NODE_ENV=production \
    TEMPLATES_DIR=/app/templates \
    HTTP_ADDR=0.0.0.0:9464
WORKDIR /app
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY templates ./templates
USER node
EXPOSE 9464
# /healthz answers while the process loop runs; Node's fetch keeps the image free of curl.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "const a=(process.env.HTTP_ADDR||'127.0.0.1:9464').replace(/^0\\.0\\.0\\.0:/,'127.0.0.1:');fetch('http://'+a+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# node is PID 1's direct command (no npm/npx wrapper), so SIGTERM reaches the daemon and in-flight
# reconciles finish before exit.
ENTRYPOINT ["node", "dist/src/cli.js"]
CMD ["run"]
