"""The tamper-evident record of replicated transactions (``hub.transfers``).

Modelled on X-Road's message log: every transaction a replicator commits on a
flow (``cn->hk``) appends one signed :class:`~hub.transfers.record.TransferRecord`
to ``hub.transfers`` on both clusters of the flow; each record carries the hash
of the flow's previous record, so an edit, a drop or a reordering breaks the
chain, and :mod:`hub.transfers.verify` finds it (``docs/transfers.md``).
"""
