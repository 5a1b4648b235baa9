"""The zstc CDK stacks and the configuration that shapes them."""
