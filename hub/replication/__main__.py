"""``python -m hub.replication``: one flow's replicator in the foreground (what its launcher starts).

Settings come from the ``HUB_*`` environment the launcher passes.
"""

from hub.commandline import module_main
from hub.replication.commands import run

module_main(run, name="hub.replication")
