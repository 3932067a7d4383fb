"""gunicorn settings of a production node: `gunicorn -c python:coordinator.gunicorn_conf ...`.

One gevent worker per node, as Flask-SocketIO requires (a socket's packets must reach the
process that holds it): scale with nodes, not workers.
"""

worker_class = "gevent"
workers = 1
# Every field unit and dashboard holds a socket open; gunicorn's default of 1,000
# connections per worker would leave the 1,001st (and the next page load) waiting.
worker_connections = 20_000
# Seconds a stopping node gets to write its buffered fixes before it is killed.
graceful_timeout = 10
