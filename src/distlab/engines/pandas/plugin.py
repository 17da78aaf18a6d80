"""pandas, as distlab sees it before importing it (see contracts/plugin.py)."""

from distlab.contracts.plugin import EnginePlugin

PLUGIN = EnginePlugin(
    name="pandas",
    engine="distlab.engines.pandas.engine:PandasEngine",
    shapes=frozenset({"dataframe"}),
    extra="pandas",
    probe=("pandas", "pyarrow"),
    libraries=("pandas", "pyarrow"),
    deploy_why="pandas runs in one process on one core",
)
