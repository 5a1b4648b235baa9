"""The model a user names, turned into what SageMaker serves.

- model_sources: --model (nothing, a directory, a model.tar.gz or a hub id) as a model directory;
- hub_snapshot: which files of a Hugging Face hub repository a model needs, and their download;
- artifact: model.tar.gz (code/ plus optional weights), built the same way for `cdk deploy`,
  `zstc package-model` and the local endpoint.
"""
