"""Programs the lab copies into its nodes (stdlib only: they run on the node's python3)."""
