"""The running service: health checks (and, alongside, instruments, alerts, SLOs and usage).

What a FastAPI, Flask, Django or worker process imports. Nothing is imported here, so
``import plimsoll.runtime.<module>`` pays only for the module it names.
"""
