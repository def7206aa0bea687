"""The built-in health checks, one per module, and the loader that builds checks from configuration.

``system`` (CPU, memory, disk, open files, threads by psutil), ``database`` (a PostgreSQL
connection and ``SELECT 1``), ``service`` (an HTTP request). Each is registered in the
``plimsoll.health_checks`` entry-point group, like third-party checks.
"""
