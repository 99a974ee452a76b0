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
RUN useradd --system --uid 10001 market
USER market
EXPOSE 8000
CMD ["uvicorn", "market.app:create_app", "--factory", "--host", "0.0.0.0", "--port", "8000"]
