# One image for the demo app and the realtime server (docker-compose.yml runs both from it).
# Build stage: every dependency, compile src/ to dist/.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# Runtime stage: production dependencies, the compiled plugin, its admin page and the demo.
FROM node:20-bookworm-slim
ENV NODE_ENV=production HOST=0.0.0.0 PORT=3000
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund --loglevel=error && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY public ./public
COPY demo ./demo
# The image's own unprivileged user: nothing runs as root.
USER node
EXPOSE 3000 8080
# demo/run.js needs REDIS_URL here (the image has no redis-server); docker-compose.yml sets it.
CMD ["node", "demo/run.js"]
