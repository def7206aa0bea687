"""pci-no-card-verification-code."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from plimsoll.db.lint.rule import Severity
from plimsoll.db.lint.rules.pci_dss._common import Holds, SensitiveDataRule
from plimsoll.db.lint.schema_facts import Patterns, matcher


class PciNoCardVerificationCode(SensitiveDataRule):
    """Never store the card verification code (CVV2, CVC2, CID, CAV2), not even encrypted.

    **Problem.** A column holds the card verification code or value printed on the card
    (``cvv``, ``cvv2``, ``cvc``, ``cvc2``, ``card_cid``, ``cav2``, ``security_code``,
    ``card_verification``...), whatever its type.

    **Why.** The card verification code is sensitive authentication data: PCI DSS v4.0
    Requirement 3.3.1 forbids retaining it after authorization, even encrypted, and
    Requirement 3.3.1.2 names it specifically. Before authorization it may only be held
    transiently and encrypted with strong cryptography (3.3.2), which a database column
    kept across requests is not. With the PAN and expiry date, it is what card-not-present
    fraud needs.

    **Fix.** Pass the code straight from the payment form to the processor (ideally the
    processor's hosted fields or iframe, so it never reaches your servers) and drop the
    column. Columns about the check rather than the code (``cvv_result``, ``cvc_check``,
    ``cvv_response``: ``not_code_patterns``) are allowed: the processor's verdict is not
    sensitive authentication data.

    **Example.**

    ```sql
    ALTER TABLE payments DROP COLUMN cvv;
    ALTER TABLE payments ADD COLUMN cvv_result text  -- the processor's M/N/P/U verdict
        CHECK (cvv_result IN ('M', 'N', 'P', 'U'));
    ```
    """

    id = "pci-no-card-verification-code"
    severity = Severity.ERROR
    help = "Drop the column: send the code to the processor and never store it."

    class Options(BaseModel):
        """Which column names are card verification codes, and which are only about them."""

        model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

        code_patterns: Patterns = Field(
            default=(
                r"(^|_)(cvv|cvv2|cvc|cvc2|cvn|cvn2|cvd|cav2|csc|cvv_?code|cvc_?code)($|_)",
                r"(^|_)(card|amex)_?cid($|_)",
                r"card_?verification|card_?security_?code|(^|_)security_?code$",
            ),
            description="Column names of card verification codes.",
        )
        not_code_patterns: Patterns = Field(
            default=(
                r"_(result|results|response|status|check|checked|match|matched|verified)$",
                r"_(required|present|provided|supplied|outcome|indicator)$",
                r"^(is|has)_",
            ),
            description="Column names about the verification rather than the code itself.",
        )

    def classifier(self) -> Holds:
        """A name matching ``code_patterns`` and not ``not_code_patterns`` holds codes."""
        codes = matcher(tuple(self.options.code_patterns))
        about = matcher(tuple(self.options.not_code_patterns))

        def holds(name: str) -> tuple[str, str] | None:
            if codes(name) and not about(name):
                return "card verification codes", "3.3.1.2"
            return None

        return holds
