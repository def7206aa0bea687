"""Query profiling and baselines, and plimsoll's own performance objectives.

- :mod:`.queries`: representative queries from a file or from ``pg_stat_statements``;
- :mod:`.explain`: EXPLAIN ANALYZE run and read;
- :mod:`.profiler`: :class:`~.profiler.QueryProfiler`, with its overhead and sampling;
- :mod:`.migration`: profiles before and after pending migrations (rolled back, or on a copy);
- :mod:`.baselines`: :class:`~.baselines.BaselineManager` and regression detection;
- :mod:`.objectives`: timings of plimsoll's own operations and their objectives;
- :mod:`.stats`: the statistics they share.

Nothing is imported here, so ``objectives`` stays cheap to import for the code that times
itself with it.
"""
