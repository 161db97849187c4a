# Same settings as the official image's /data/gunicorn.conf.py (read by gunicorn from WORKDIR /data
# when the entrypoint starts `pypi-server run ... --server gunicorn`).
errorlog = "-"
preload_app = True
workers = 1
worker_class = "gevent"
