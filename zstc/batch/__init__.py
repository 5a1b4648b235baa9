"""Batch transform from the client: JSON Lines in, a SageMaker job, JSON Lines out.

- jsonl_validation: checks every line with the endpoint's own request rules before anything runs;
- line_splitting: splits JSON Lines text into records exactly where SageMaker does;
- submit: uploads a file (or a dataset of parts) under input/ so the trigger starts a job;
- status: the job's state, and waiting for it to end;
- results: downloads the job's .out files and counts their error lines.
"""
