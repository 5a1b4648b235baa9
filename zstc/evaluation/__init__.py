"""`zstc eval`: score labels, templates and models on a labelled sample before a batch job.

- labelled_sample: reads FILE.jsonl (batch-input lines plus "label" or "labels");
- wordings: maps the wording sent to the model back to the label in the file;
- classifiers: where the texts are classified (in-process, local endpoint, deployed endpoint);
- evaluation_run: sends one configuration's requests and collects its predictions, or reads
  them from a finished batch job's output;
- metrics: accuracy, macro-F1, top-k, per-label scores, confusion matrix, threshold search;
- comparison: the paired bootstrap that decides whether one configuration is better;
- terminal_report / report_files: the table on screen, JSON, and the PNG + HTML report;
- eval_command: runs and scores every configuration; eval_entry: what the CLI options do.
"""
