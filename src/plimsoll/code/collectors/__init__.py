"""Built-in collectors, one module each, registered through the ``plimsoll.collectors`` group."""
