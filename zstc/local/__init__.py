"""Serving on this machine: the container's own model server (multi-model-server + the Hugging
Face toolkit), started and stopped by the client, with nothing deployed.

- endpoint: starts the server on a model directory, answers /ping and /invocations;
- server_supervisor: ends the server when the client process dies;
- toolkit_mms_config: the server configuration the toolkit itself writes in the container;
- stop_signals: `local serve` waits for Ctrl-C, SIGTERM or SIGHUP;
- batch: a JSON Lines file through a local endpoint, with batch transform's semantics.
"""
