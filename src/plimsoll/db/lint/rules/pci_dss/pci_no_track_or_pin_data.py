"""pci-no-track-or-pin-data."""

from __future__ import annotations

from functools import partial

from pydantic import BaseModel, ConfigDict, Field

from plimsoll.db.lint.rule import Severity
from plimsoll.db.lint.rules.pci_dss._common import Holds, SensitiveDataRule
from plimsoll.db.lint.schema_facts import NameMatcher, Patterns, matcher


class PciNoTrackOrPinData(SensitiveDataRule):
    """Never store full track data, PINs or PIN blocks, not even encrypted.

    **Problem.** A column holds the contents of a card's magnetic stripe or chip
    (``track1``, ``track2``, ``track_data``, ``magstripe``, ``track2_equivalent``...) or a
    personal identification number (``pin``, ``pin_block``, ``card_pin``, ``pvv``...),
    whatever its type.

    **Why.** Both are sensitive authentication data: PCI DSS v4.0 Requirement 3.3.1 forbids
    retaining them after authorization even encrypted; 3.3.1.1 names the full track contents
    and 3.3.1.3 the PIN and the encrypted PIN block. Track data is enough to clone a card;
    with the PIN, to withdraw cash.

    **Fix.** Drop the column. A terminal sends track data and PIN blocks to the acquirer
    through its own encrypted channel (P2PE); your database needs at most a token and the
    last four digits. ``track_patterns`` and ``pin_patterns`` set the names; columns about
    the data rather than the data (``pin_attempts``, ``pin_set``: ``not_patterns``) are
    allowed.

    **Example.**

    ```sql
    ALTER TABLE card_swipes DROP COLUMN track2;
    ```
    """

    id = "pci-no-track-or-pin-data"
    severity = Severity.ERROR
    help = "Drop the column: track data, PINs and PIN blocks are never stored after authorization."

    class Options(BaseModel):
        """Which column names hold track data or PINs, and which are only about them."""

        model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

        track_patterns: Patterns = Field(
            default=(
                r"(^|_)track_?(1|2|3|one|two|three|data)($|_)|full_?track",
                r"mag_?stripe|magnetic_?stripe|swipe_?data",
            ),
            description="Column names of magnetic-stripe or chip track data.",
        )
        pin_patterns: Patterns = Field(
            default=(
                r"^pin$|(^|_)pin_?block|(^|_)(card|atm|debit)_?pin($|_)",
                r"^pin_(number|hash|encrypted|enc|offset|data)$|(^|_)pvv($|_)",
            ),
            description="Column names of PINs, PIN blocks and PIN verification values.",
        )
        not_patterns: Patterns = Field(
            default=(
                r"_(set|attempts|failures|retries|length|changed_at|verified|required|enabled)$",
                r"_(status|result|present|count|reset_at|locked|locked_at)$",
                r"^(is|has)_",
            ),
            description="Column names about the data rather than the data itself.",
        )

    def classifier(self) -> Holds:
        """Track data or PINs by name, unless the name is about the data (``not_patterns``)."""
        return partial(
            _kind,
            track=matcher(tuple(self.options.track_patterns)),
            pin=matcher(tuple(self.options.pin_patterns)),
            about=matcher(tuple(self.options.not_patterns)),
        )


def _kind(
    name: str, *, track: NameMatcher, pin: NameMatcher, about: NameMatcher
) -> tuple[str, str] | None:
    """What the column holds (its description and requirement), or None."""
    if about(name):
        return None
    if track(name):
        return "full track data", "3.3.1.1"
    if pin(name):
        return "PINs or PIN blocks", "3.3.1.3"
    return None
