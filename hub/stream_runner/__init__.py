"""The one stream-runner of the hub's faust workers (the gateway, the projection worker).

A worker supplies its per-batch function and a few hooks
(:class:`hub.stream_runner.runner.WorkerSpec`); the runner owns everything
around them, the same way for every worker:

- :mod:`hub.stream_runner.tuning` — :class:`Tuning`, the knobs of a worker (pure);
- :mod:`hub.stream_runner.batch` — :class:`Consumed`, one record with its Kafka coordinates (pure);
- :mod:`hub.stream_runner.status` — what every worker's status file holds and how it is read (pure);
- :mod:`hub.stream_runner.app` — the ``faust.App`` built from the settings, its consumer's positioning
  step (seek to offsets stored elsewhere) and the quieting of the libraries' logs (faust);
- :mod:`hub.stream_runner.runner` — the batch loop (acknowledge a batch only once its function
  returned), assignment and readiness, the status, log and topic-check timers, and ``run()`` (faust).

Nothing is imported here, so that the status readers (launchers, CLI) never import faust.
"""
