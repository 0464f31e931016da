"""Re-export of :mod:`hub.agreements.keys`, where the agreement keys now live.

Kept for the modules that still import ``hub.agreement_keys`` (the gateway
service, its launcher, the test fixtures, the gateway benchmark); new code
imports :mod:`hub.agreements.keys`.
"""

from __future__ import annotations

from hub.agreements.keys import (
    SECRETS_FILE_OPTION,
    demo_secrets_path,
    generate_key,
    load_key,
    read_secrets_file,
    write_demo_secrets,
)

__all__ = [
    "SECRETS_FILE_OPTION",
    "demo_secrets_path",
    "generate_key",
    "load_key",
    "read_secrets_file",
    "write_demo_secrets",
]
