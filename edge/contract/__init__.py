"""The contract with central systems: the schemas of what the node publishes and accepts."""
