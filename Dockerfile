# syntax=docker/dockerfile:1
# One image for every service; the command picks which: broker, streamer, collector, api.
#   docker build -t gpu-telemetry .
#   docker run --rm -p 8080:8080 gpu-telemetry api
# The sample CSV is at /app/data/dcgm_metrics_20250718_134233.csv; mount another
# file there (or set STREAMER_CSV_PATH) to stream your own.

ARG BUN_VERSION=1.4.5

# Production dependencies only: the embedded ClickHouse (chdb) and test tools stay out.
FROM oven/bun:${BUN_VERSION}-slim AS deps
WORKDIR /app
COPY package.json bun.lock bunfig.toml ./
RUN bun install --frozen-lockfile --production --ignore-scripts

FROM oven/bun:${BUN_VERSION}-slim AS runtime
WORKDIR /app
# BUN_OPTIONS: Bun's HTTP parser lets requests up to 256 KiB through, so the services
# answer an oversized URL or header with their own JSON 414/431 (src/http/request-limits.ts).
ENV NODE_ENV=production \
    BUN_OPTIONS=--max-http-header-size=262144 \
    LOG_FORMAT=json \
    STREAMER_CSV_PATH=/app/data/dcgm_metrics_20250718_134233.csv \
    BROKER_DATA_DIR=/var/lib/broker
RUN groupadd --gid 10001 telemetry \
 && useradd --uid 10001 --gid telemetry --no-create-home --shell /usr/sbin/nologin telemetry \
 && mkdir -p /var/lib/broker && chown telemetry:telemetry /var/lib/broker
COPY --from=deps /app/node_modules ./node_modules
COPY package.json bunfig.toml tsconfig.json ./
COPY src ./src
COPY brokers ./brokers
COPY services ./services
COPY data ./data
COPY --chmod=755 deploy/docker/entrypoint.sh /usr/local/bin/telemetry
USER 10001:10001
EXPOSE 8080 9092 9500 9600
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 CMD ["/usr/local/bin/telemetry", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/telemetry"]
CMD ["api"]
