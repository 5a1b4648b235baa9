"""zstc: command-line client and local tooling for zero-shot text classification on SageMaker."""
