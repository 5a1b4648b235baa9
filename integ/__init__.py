"""The integration run: zstc's own stacks in a cheap configuration, deployed, checked, destroyed."""
