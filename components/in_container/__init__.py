"""Programs that run inside the containers, not in the Pulumi program: standard library only (plus
gevent, which the pypiserver image has), Python 3.10 like the official image. The deployment delivers
them as files (components/pypiserver/programs.py); the program imports them only for their shared names."""
