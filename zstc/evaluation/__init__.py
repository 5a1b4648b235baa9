"""`zstc eval`: score labels, templates and models on a labelled sample before a batch job.

- labelled_sample: reads FILE.jsonl (batch-input lines plus "label" or "labels");
- wordings: maps the wording sent to the model back to the label in the file;
- classifiers: where the texts are classified (in-process, local endpoint, deployed endpoint);
- predictions: sends one configuration's requests and collects its predictions, or reads
  them from a finished batch job's output;
- metrics: accuracy, macro-F1, top-k, per-label scores, confusion matrix, threshold search;
- comparison: the paired bootstrap that decides whether one configuration is better;
- run: runs and scores every configuration, and compares them;
- report: what a run found (every configuration's scores and predictions), and its JSON form;
- terminal_report / report_files: the report on screen, and as PNG + HTML + JSON files;
- options: what `zstc eval`'s options ask for: where to classify, then the run and the output.
"""
