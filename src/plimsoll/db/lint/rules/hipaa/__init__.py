"""The ``hipaa`` rules: how a schema holding protected health information (PHI) must look.

Each rule cites the HIPAA Security Rule (45 CFR Part 164, Subpart C) or Privacy Rule section
it supports. Which tables and columns hold PHI is decided by configurable name patterns and by
classification comments (see :mod:`plimsoll.db.lint.rules.hipaa._common`).
"""
