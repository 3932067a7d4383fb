# One coordinator node on the embedded SQLite default; the data directory is a volume.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY coordinator ./coordinator
COPY static ./static
COPY templates ./templates
COPY maps ./maps
RUN pip install --no-cache-dir . && useradd --system --home /data coordinator && mkdir -p /data && chown coordinator /data
USER coordinator
VOLUME ["/data"]
EXPOSE 8080
CMD ["coordinator", "serve", "--host", "0.0.0.0", "--port", "8080", "--data-dir", "/data"]
