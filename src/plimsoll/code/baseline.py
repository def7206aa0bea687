"""The baseline of delta rules: the earlier record a record's changes are measured against.

Where it comes from, in order:

1. the first-parent history of the base branch (``code.base_branch``, else
   ``<remote>/<base_branch>``) at or before its merge base with the commit; on the base branch
   itself, the commits before it. The newest commit there with a record is the baseline.
2. In a shallow clone (a CI checkout with ``fetch-depth: 1``) that history is not here, and
   git is never asked to walk it: the tip of the base branch when it has a record and is not
   the commit itself (a pull request's merge commit against ``origin/main``), else the parents
   named in the commit object (a push to main, whose parent is the previous tip).

With no baseline the reason says what to do: fetch the whole history (shallow), or fetch the
history branch (on the remote but not here). Each delta rule then compares with the newest
record of the baseline commit that holds its metric: CI jobs collecting different
``--collectors`` record one commit several times, each record holding some metrics.

A ``fail`` delta rule without a baseline is skipped with a warning, or fails the gate with
``code.require_baseline = true``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from plimsoll.code import gitinfo, lookup
from plimsoll.code.history import History, HistoryEntry
from plimsoll.code.metric_names import MetricNames
from plimsoll.code.record import Record
from plimsoll.code.thresholds import ThresholdReport, evaluate_thresholds
from plimsoll.core.errors import ExitCode
from plimsoll.core.rules import Action, MetricMissing, Outcome, RuleSpec

REQUIRE_KEY = "code.require_baseline"


@dataclass(frozen=True)
class Baseline:
    """The baseline commit's records, how it was found, and why there is none when there is not.

    ``record`` is the newest readable record of the baseline commit (None: no baseline),
    ``records`` all of them, newest first. ``how`` says how the commit was found when that
    was not the base branch's own history (a shallow clone); ``missing`` why there is no
    baseline, with the fix, when that is known; ``warning`` is about the configuration (a
    base branch that is not here).
    """

    record: Record | None
    warning: str | None = None
    records: tuple[Record, ...] = ()
    how: str | None = None
    missing: str | None = None

    def for_metric(self, metric: str) -> Record | None:
        """The newest record of the baseline commit holding ``metric``, or None."""
        for record in self.records or ((self.record,) if self.record is not None else ()):
            if not isinstance(lookup.resolve_metric(record.metrics, metric), MetricMissing):
                return record
        return None

    def describe(self, require: bool = False) -> str:
        """One line naming the baseline record (and how it was found), or why there is none."""
        if self.record is None:
            why = f": {self.missing}" if self.missing else ""
            then = (
                f"delta fail rules fail the gate ({REQUIRE_KEY} = true)"
                if require
                else "delta rules are skipped"
            )
            return f"no baseline record{why}; {then}"
        where = f" on {self.record.branch}" if self.record.branch else ""
        how = f", {self.how}" if self.how else ""
        return (
            f"deltas compare with the record of {self.record.commit_sha[:7]}{where} "
            f"({self.record.timestamp:%Y-%m-%d %H:%M:%S} UTC){how}"
        )

    def to_json(self) -> dict[str, Any] | None:
        """The baseline record's identity as JSON, or None."""
        if self.record is None:
            return None
        return _identity(self.record)


def _identity(record: Record) -> dict[str, Any]:
    return {
        "commit_sha": record.commit_sha,
        "branch": record.branch,
        "timestamp": record.timestamp.isoformat(),
    }


class _Records:
    """The history's records looked up by commit, each commit's read once when first asked."""

    def __init__(self, history: History) -> None:
        self.history = history
        self.by_sha7: dict[str, list[HistoryEntry]] = {}
        for entry in history.entries():
            self.by_sha7.setdefault(entry.sha7, []).append(entry)

    def of(self, sha: str) -> tuple[Record, ...]:
        """The readable records of commit ``sha``, newest first (unreadable ones passed over)."""
        entries = self.by_sha7.get(sha[:7], [])
        if not entries:
            return ()
        loaded, _ = self.history.read_entries(entries)
        found = [loaded[e.path] for e in entries if e.path in loaded]
        return tuple(r for r in reversed(found) if r.commit_sha == sha)


def find_baseline(
    root: Path,
    history: History,
    record: Record,
    *,
    base_branch: str,
    remote: str,
    source: str,
) -> Baseline:
    """The baseline of ``record`` (see the module's docstring).

    ``source`` names the configuration file in the warning about a base branch that is
    neither here nor on the remote; the commit's own first-parent history is used then.
    """
    candidates = (base_branch, f"{remote}/{base_branch}")
    present = [ref for ref in candidates if gitinfo.resolves(root, ref)]
    warning = None
    if not present:
        warning = (
            f"{source}: code.base_branch: no branch {base_branch!r} here (nor {candidates[1]}); "
            "delta rules compare with the commit's own first-parent history"
        )
    records = _Records(history)
    if not records.by_sha7:
        empty = history.unfetched_hint() or f"branch {history.branch!r} has no records yet"
        return Baseline(None, warning, missing=empty)
    sha = record.commit_sha
    start: str | None = None
    for ref in present:
        start = gitinfo.merge_base(root, sha, ref)
        if start:
            break
    if not start or start == sha:
        start = f"{sha}~1"
    for commit in gitinfo.first_parent_history(root, start):
        found = records.of(commit)
        if found:
            return Baseline(found[0], warning, found)
    shallow = gitinfo.is_shallow(root)
    if shallow:
        found_shallow = _shallow_baseline(root, records, sha, present)
        if found_shallow is not None:
            return replace(found_shallow, warning=warning)
    missing: str | None = history.unfetched_hint()
    if missing is None and shallow:
        missing = (
            f"this clone is shallow, so the commits before {sha[:7]} are not here and none "
            f"that is has a record: fetch them with {gitinfo.UNSHALLOW}"
        )
    if missing is None:
        missing = f"no commit before {sha[:7]} on its base branch's first-parent line has a record"
    return Baseline(None, warning, missing=missing)


def _shallow_baseline(
    root: Path, records: _Records, sha: str, refs: Sequence[str]
) -> Baseline | None:
    """In a shallow clone: the base branch's tip's records, else a recorded parent's."""
    for ref in refs:
        tip = gitinfo.git(root, "rev-parse", "--verify", f"{ref}^{{commit}}")
        if tip == sha:
            continue  # the commit is the branch's tip: its parent is the baseline
        found = records.of(tip)
        if found:
            how = f"the tip of {ref} (this clone is shallow: the merge base is not here)"
            return Baseline(found[0], records=found, how=how)
    for index, parent in enumerate(gitinfo.recorded_parents(root, sha)):
        found = records.of(parent)
        if found:
            which = "parent" if index == 0 else f"parent {index + 1}"
            how = f"the {which} of {sha[:7]} (this clone is shallow: its history is not here)"
            return Baseline(found[0], records=found, how=how)
    return None


@dataclass(frozen=True)
class RuleBaseline:
    """A delta rule that compared with an older record of the baseline commit than the newest."""

    rule: str
    metric: str
    record: Record

    def describe(self) -> str:
        """One line naming the record the rule compared with, and why."""
        return (
            f"rule {self.rule!r} compared with the record of {self.record.commit_sha[:7]} of "
            f"{self.record.timestamp:%Y-%m-%d %H:%M:%S} UTC (the newest record of that commit "
            f"with {self.metric})"
        )

    def to_json(self) -> dict[str, Any]:
        """The rule, its metric and the record it compared with, as JSON."""
        return {"rule": self.rule, "metric": self.metric, "record": _identity(self.record)}


@dataclass(frozen=True)
class Evaluated:
    """A threshold report with per-rule baselines, and the fail rules left unchecked."""

    report: ThresholdReport
    compared: tuple[RuleBaseline, ...] = ()
    # One warning line per fail delta rule that had no baseline to compare with.
    unchecked: tuple[str, ...] = ()


def _graft(new: Any, old: Any, parts: Sequence[str]) -> Any:
    """``new`` with the value ``old`` holds at ``parts`` put at the same place.

    Only what lies along the path is copied; where ``new`` lacks a key of the path, ``old``'s
    subtree there is taken whole. Keys are matched as :func:`plimsoll.core.rules.resolve`
    matches them (a key may hold dots). ``new`` unchanged when the path cannot be followed.
    """
    if not parts or not isinstance(old, Mapping) or not isinstance(new, Mapping):
        return new
    for end in range(1, len(parts) + 1):
        key = ".".join(parts[:end])
        if key in old:
            out = dict(new)
            out[key] = _graft(new[key], old[key], parts[end:]) if key in new else old[key]
            return out
    return new


def _previous(
    specs: Sequence[RuleSpec], baseline: Baseline | None
) -> tuple[dict[str, Any] | None, list[RuleBaseline]]:
    """What delta rules compare with: the baseline's newest record's metrics, with the value
    of each delta rule's metric taken from the newest record holding it when that is an older
    one; and those rules."""
    if baseline is None or baseline.record is None:
        return None, []
    newest = baseline.record
    merged: dict[str, Any] = newest.metrics
    compared: list[RuleBaseline] = []
    for spec in specs:
        if not spec.delta or spec.metric is None:
            continue
        chosen = baseline.for_metric(spec.metric)
        if chosen is None or chosen is newest:
            continue
        merged = _graft(merged, chosen.metrics, spec.metric.split("."))
        compared.append(RuleBaseline(spec.label, spec.metric, chosen))
    return merged, compared


def evaluate(
    specs: Sequence[RuleSpec],
    record: Record,
    baseline: Baseline | None,
    *,
    require: bool = False,
    source: Path | str | None = None,
    names: MetricNames | None = None,
) -> Evaluated:
    """Evaluate ``specs`` on ``record``, each delta rule against its own baseline record.

    A delta rule compares with the newest record of the baseline commit holding its metric
    (their values put together as one set of previous metrics, so the rules are judged in
    one pass and a configuration error names the rule's index). A ``fail`` delta rule with
    nothing to compare with is skipped, and named in ``unchecked``; with ``require``
    (``code.require_baseline``) it is an error instead, which fails the gate. ``source``:
    the configuration file the rules came from, for such errors; ``names`` what the rules
    may name (see :mod:`plimsoll.code.metric_names`; by default the tools in the current folder).
    """
    previous, compared = _previous(specs, baseline)
    report = evaluate_thresholds(
        specs,
        record.metrics,
        previous,
        collector_errors=record.collector_errors,
        source=source,
        names=names,
    )
    results = list(report.results)
    unchecked: list[str] = []
    converted = 0
    for index, (spec, result) in enumerate(zip(specs, results, strict=True)):
        lacking = previous is None or (
            spec.metric is not None
            and isinstance(lookup.resolve_metric(previous, spec.metric), MetricMissing)
        )
        if not (spec.delta and result.outcome is Outcome.SKIPPED and lacking):
            continue
        reason = _lack(baseline)
        subject = spec.metric or spec.label
        if spec.action is not Action.FAIL:
            results[index] = replace(result, message=f"{subject}: {reason}, not checked")
        elif require:
            results[index] = replace(
                result,
                outcome=Outcome.ERROR,
                passed=None,
                message=f"{subject}: {reason}; {REQUIRE_KEY} = true fails the gate",
            )
            converted += 1
            unchecked.append(
                f"fail rule {spec.label!r} could not be checked: {_why(baseline, reason)}; "
                f"it fails the gate ({REQUIRE_KEY} = true)"
            )
        else:
            results[index] = replace(result, message=f"{subject}: {reason}, not checked")
            unchecked.append(
                f"fail rule {spec.label!r} was not checked: {_why(baseline, reason)}; the gate "
                f"passes without it (set {REQUIRE_KEY} = true to fail it instead)"
            )
    report = replace(report, results=tuple(results))
    if converted:
        report = replace(
            report,
            skipped=report.skipped - converted,
            errored=report.errored + converted,
            exit_code=int(ExitCode.FINDINGS),
        )
    return Evaluated(report, tuple(compared), tuple(unchecked))


def _lack(baseline: Baseline | None) -> str:
    """Why a delta rule has no record to compare with, for its row."""
    if baseline is None or baseline.record is None:
        return "no baseline record"
    sha7 = baseline.record.commit_sha[:7]
    count = len(baseline.records) or 1
    if count == 1:
        return f"not in the baseline record (of {sha7})"
    return f"in none of the {count} baseline records (of {sha7})"


def _why(baseline: Baseline | None, reason: str) -> str:
    """``reason`` with the baseline's own explanation, when it has one."""
    if baseline is not None and baseline.record is None and baseline.missing:
        return f"{reason} ({baseline.missing})"
    return reason
