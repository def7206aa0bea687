"""The command-line interface: one module per command group, thin over the parts."""
