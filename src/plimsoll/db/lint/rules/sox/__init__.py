"""The ``sox`` rules: how a schema holding financial records must look under Sarbanes-Oxley.

Section 404 asks for internal control over financial reporting (who recorded or changed what,
and that nobody can quietly change it); section 802 (18 U.S.C. 1519 and 1520) makes altering,
destroying or concealing records a crime and asks that they be retained. Which tables are
financial, and which of them are ledgers, is decided by configurable name patterns and by
classification comments (see :mod:`plimsoll.db.lint.rules.sox._common`).
"""
