"""``python -m hub.gateway``: the gateway worker in the foreground (what its launcher starts).

Settings come from the ``HUB_*`` environment the launcher passes.
"""

from hub.commandline import module_main
from hub.gateway.commands import run

module_main(run, name="hub.gateway")
