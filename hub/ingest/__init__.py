"""HTTP ingest edge: :mod:`hub.ingest.batch` (pure rules) and :mod:`hub.ingest.app` (FastAPI adapter)."""
