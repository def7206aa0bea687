"""What every part shares: config, errors, rules, notify, store, plugins, hooks, log."""
