"""The dependency graph of one phase's hooks: validation, ordering, levels and the critical path."""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence

from plimsoll.core.hooks.errors import DependencyCycleError, UnknownDependencyError
from plimsoll.core.hooks.model import Hook


def check(phase: str, hooks: Sequence[Hook]) -> None:
    """Reject a dependency on an unknown hook (naming it) and a cycle (naming its members)."""
    known = {h.name for h in hooks}
    for h in hooks:
        for dep in h.depends_on:
            if dep not in known:
                raise UnknownDependencyError(phase, h.name, dep)
    cycle = find_cycle({h.name: h.depends_on for h in hooks})
    if cycle:
        raise DependencyCycleError(phase, cycle)


def find_cycle(deps: Mapping[str, Sequence[str]]) -> tuple[str, ...]:
    """Return the hooks of one dependency cycle in dependency order, or ``()`` when there is none."""
    done: set[str] = set()
    for start in sorted(deps):
        if start in done:
            continue
        # Iterative depth-first search: the path on the stack is the cycle when we meet it again.
        path: list[str] = [start]
        on_path = {start}
        iterators = [iter(sorted(deps.get(start, ())))]
        while iterators:
            nxt = next(iterators[-1], None)
            if nxt is None:
                iterators.pop()
                node = path.pop()
                on_path.discard(node)
                done.add(node)
                continue
            if nxt in on_path:
                return tuple(path[path.index(nxt) :])
            if nxt in done or nxt not in deps:
                continue
            path.append(nxt)
            on_path.add(nxt)
            iterators.append(iter(sorted(deps.get(nxt, ()))))
    return ()


def order(hooks: Sequence[Hook]) -> list[Hook]:
    """Return the hooks one after another: dependencies first, otherwise lower priority first.

    Ties keep the order of ``hooks`` (registration order). The graph must have passed :func:`check`.
    """
    index = {h.name: i for i, h in enumerate(hooks)}
    waiting = {h.name: set(h.depends_on) for h in hooks}
    dependents: dict[str, list[str]] = {h.name: [] for h in hooks}
    for h in hooks:
        for dep in h.depends_on:
            dependents[dep].append(h.name)
    by_name = {h.name: h for h in hooks}
    ready = [(h.priority, index[h.name]) for h in hooks if not h.depends_on]
    heapq.heapify(ready)
    result: list[Hook] = []
    while ready:
        _, i = heapq.heappop(ready)
        current = hooks[i]
        result.append(current)
        for name in dependents[current.name]:
            waiting[name].discard(current.name)
            if not waiting[name]:
                heapq.heappush(ready, (by_name[name].priority, index[name]))
    return result


def levels(hooks: Sequence[Hook]) -> list[list[Hook]]:
    """Return the hooks in levels: each level depends only on earlier ones, so it can run at once.

    A hook's level is one more than its deepest dependency's. Within a level, lower priority first.
    """
    by_name = {h.name: h for h in hooks}
    depth: dict[str, int] = {}
    for h in order(hooks):
        depth[h.name] = 1 + max((depth[d] for d in h.depends_on), default=-1)
    grouped: list[list[Hook]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
    for h in order(hooks):
        grouped[depth[h.name]].append(by_name[h.name])
    for level in grouped:
        level.sort(key=lambda h: h.priority)
    return grouped


def critical_path(
    durations: Mapping[str, float], deps: Mapping[str, Sequence[str]]
) -> tuple[tuple[str, ...], float]:
    """Return the chain of dependencies with the longest total duration, and that total.

    Dependencies outside ``durations`` are ignored. With no dependencies at all, the path is the
    single longest hook.
    """
    best: dict[str, tuple[float, tuple[str, ...]]] = {}

    def longest(name: str) -> tuple[float, tuple[str, ...]]:
        if name not in best:
            before = [longest(d) for d in deps.get(name, ()) if d in durations]
            total, chain = max(before, default=(0.0, ()))
            best[name] = (total + durations[name], (*chain, name))
        return best[name]

    if not durations:
        return (), 0.0
    total, chain = max(longest(name) for name in sorted(durations))
    return chain, total
