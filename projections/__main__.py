"""``python -m projections``: the projection worker in the foreground (what its launcher starts).

Settings come from the ``HUB_*`` environment the launcher passes.
"""

from hub.commandline import module_main
from projections.commands.project import run

module_main(run, name="projections")
