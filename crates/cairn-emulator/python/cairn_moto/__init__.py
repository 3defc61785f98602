"""cairn_moto: moto 5.2.5 server extended for cairn's local AWS emulator.

Launched as ``python -m cairn_moto --host 127.0.0.1 --port PORT --state-dir DIR``.
See ``server.py`` for the WSGI wiring, ``elasticache_ext.py`` for the ElastiCache
extensions and ``twin.py`` for the redis-server "local twin".
"""

MOTO_VERSION = "5.2.5"
