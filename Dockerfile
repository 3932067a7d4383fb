# One coordinator node. Alone (`docker run`) it serves on the embedded SQLite default with
# the data directory as a volume; docker-compose.yml overrides the command with gunicorn
# (one gevent worker) to run several nodes on one Redis behind nginx.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY coordinator ./coordinator
COPY static ./static
COPY templates ./templates
COPY maps ./maps
# The server extra brings gunicorn and gevent for the multi-node command.
RUN pip install --no-cache-dir '.[server]' && useradd --system --home /data coordinator && mkdir -p /data && chown coordinator /data
USER coordinator
VOLUME ["/data"]
EXPOSE 8080
CMD ["coordinator", "serve", "--host", "0.0.0.0", "--port", "8080", "--data-dir", "/data"]
