"""The built-in rule libraries, one per module, each a ``LIBRARY``."""
