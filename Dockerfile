# Multi-stage build: the playground assets from the npm registry, the Go binary, then a
# small runtime image. The server needs a PostgreSQL with PostGIS (see docker-compose.yml).
FROM node:20-bookworm-slim AS web
WORKDIR /src/web
COPY web/package.json web/package-lock.json web/build.mjs ./
RUN npm ci --no-audit --no-fund && node build.mjs

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
COPY --from=web /src/web/dist ./web/dist
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/caregraph ./server

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates wget \
    && rm -rf /var/lib/apt/lists/* && useradd --system --home /app caregraph
COPY --from=build /out/caregraph /usr/local/bin/caregraph
WORKDIR /app
USER caregraph
ENV CAREGRAPH_ADDR=:8080 CAREGRAPH_DATA_DIR=/data CAREGRAPH_LOG_FORMAT=json
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s CMD wget -qO- http://127.0.0.1:8080/readyz || exit 1
ENTRYPOINT ["caregraph"]
