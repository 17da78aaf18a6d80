"""SCOOP, as distlab sees it before importing it (see contracts/plugin.py)."""

from distlab.contracts.plugin import EnginePlugin, Option

PLUGIN = EnginePlugin(
    name="scoop",
    engine="distlab.engines.scoop.engine:ScoopEngine",
    shapes=frozenset({"tasks"}),
    extra="scoop",
    probe=("scoop",),
    libraries=("scoop", "pyzmq"),
    deploy="distlab.engines.scoop.hosts:deploy",
    options=(
        Option("start_timeout", float, 60.0, "seconds SCOOP may take to start its workers",
               minimum=1),
        Option("external_hostname", str, None,
               "where remote workers reach the origin and broker (with an address)"),
        Option("ssh_executable", str, None, "the ssh SCOOP starts remote workers with"),
    ),
)  # fmt: skip
