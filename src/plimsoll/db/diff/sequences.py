"""Sequences that are not an identity column's: options, ownership, comments and grants."""

from __future__ import annotations

from plimsoll.db.catalog import Catalog, Sequence, quote_ident, sql_name
from plimsoll.db.diff import risks
from plimsoll.db.diff.model import Change, ChangeKind, Phase, Step
from plimsoll.db.diff.text import comment_sql, diff_comment, diff_grants, grants_sql, pairs


def _options(sequence: Sequence) -> str:
    return (
        f"AS {sequence.data_type} INCREMENT BY {sequence.increment}"
        f" MINVALUE {sequence.minimum} MAXVALUE {sequence.maximum}"
        f" START WITH {sequence.start} CACHE {sequence.cache}"
        f" {'CYCLE' if sequence.cycle else 'NO CYCLE'}"
    )


def _owned_by_sql(sequence: Sequence, owner: tuple[str, str, str] | None) -> str:
    target = "NONE" if owner is None else f"{sql_name(owner[0], owner[1])}.{quote_ident(owner[2])}"
    return f"ALTER SEQUENCE {sequence.sql_name} OWNED BY {target};"


def _create_sql(sequence: Sequence) -> str:
    out = [f"CREATE SEQUENCE {sequence.sql_name} {_options(sequence)};"]
    if sequence.comment is not None:
        out.append(comment_sql(f"SEQUENCE {sequence.sql_name}", sequence.comment))
    out += grants_sql(frozenset(), sequence.grants, f"SEQUENCE {sequence.sql_name}")
    return "\n".join(out)


def _drop_sql(sequence: Sequence) -> str:
    return f"DROP SEQUENCE {sequence.sql_name};"


def diff_sequences(a: Catalog, b: Catalog) -> list[Change]:
    """Sequences created, dropped or altered."""
    out = []
    for key in pairs(a.sequences, b.sequences):
        old, new = a.sequences.get(key), b.sequences.get(key)
        steps: list[Step] = []
        if old is None and new is not None:
            steps.append(
                Step(
                    Phase.SEQUENCES,
                    _create_sql(new),
                    _drop_sql(new),
                    down_risk=risks.drop_sequence(key),
                )
            )
            if new.owned_by is not None:
                steps.append(
                    Step(
                        Phase.OWN_SEQUENCES,
                        _owned_by_sql(new, new.owned_by),
                        _owned_by_sql(new, None),
                    )
                )
            out.append(Change(ChangeKind.ADDED, "sequence", key, "", tuple(steps)))
        elif new is None and old is not None:
            if old.owned_by is not None:
                # Dropping the owning table would drop the sequence with it, and the way back
                # needs the sequence before the table (its default calls nextval).
                steps.append(
                    Step(
                        Phase.DISOWN_SEQUENCES,
                        _owned_by_sql(old, None),
                        _owned_by_sql(old, old.owned_by),
                    )
                )
            steps.append(
                Step(
                    Phase.DROP_SEQUENCES,
                    _drop_sql(old),
                    _create_sql(old),
                    up_risk=risks.drop_sequence(key),
                )
            )
            out.append(Change(ChangeKind.REMOVED, "sequence", key, "", tuple(steps)))
        elif old is not None and new is not None and old != new:
            out += _altered(key, old, new)
    return out


def _altered(key: str, old: Sequence, new: Sequence) -> list[Change]:
    out = []
    steps: list[Step] = []
    details = []
    if _options(old) != _options(new):
        details.append("options")
        steps.append(
            Step(
                Phase.SEQUENCES,
                f"ALTER SEQUENCE {new.sql_name} {_options(new)};",
                f"ALTER SEQUENCE {old.sql_name} {_options(old)};",
                up_risk=risks.narrow_sequence(key, old, new),
                down_risk=risks.narrow_sequence(key, new, old),
            )
        )
    if old.owned_by != new.owned_by:
        details.append("owner")
        if old.owned_by is not None:
            steps.append(
                Step(
                    Phase.DISOWN_SEQUENCES,
                    _owned_by_sql(old, None),
                    _owned_by_sql(old, old.owned_by),
                )
            )
        if new.owned_by is not None:
            steps.append(
                Step(
                    Phase.OWN_SEQUENCES,
                    _owned_by_sql(new, new.owned_by),
                    _owned_by_sql(new, None),
                )
            )
    if steps:
        out.append(Change(ChangeKind.CHANGED, "sequence", key, ", ".join(details), tuple(steps)))
    out += diff_comment(old.comment, new.comment, f"SEQUENCE {new.sql_name}", key)
    out += diff_grants(old.grants, new.grants, f"SEQUENCE {new.sql_name}", key)
    return out
