"""``python -m hub.registry``: the schema registry in the foreground (what its launcher starts).

Settings come from the ``HUB_*`` environment the launcher passes.
"""

from hub.commandline import module_main
from hub.commands.registry import serve

module_main(serve, name="hub.registry")
