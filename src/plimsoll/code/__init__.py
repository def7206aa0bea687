"""Code metrics: collectors, records, history on a git branch, thresholds, retention."""
