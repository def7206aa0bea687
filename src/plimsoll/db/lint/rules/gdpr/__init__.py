"""The ``gdpr`` rules: how a schema holding personal data supports the GDPR.

Each rule cites the article of Regulation (EU) 2016/679 it supports (Art. 5 principles, Art. 7
consent, Art. 9 special categories, Art. 15-17 access, rectification and erasure, Art. 25 data
protection by design and by default, Art. 30 records of processing, Art. 32 security of
processing). Only what a schema can show is checked: lawful basis, transfers abroad and the
processes around the data are out of a linter's reach.

Which columns hold personal data, which are special categories and which tables are data
subjects is decided by configurable name patterns and by classification comments; the
conventions (``classification: personal``, ``retention: 2 years``, ``purpose: ...``) are
described in :mod:`plimsoll.db.lint.rules.gdpr._common`.
"""
