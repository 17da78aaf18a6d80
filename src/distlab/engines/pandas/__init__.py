"""pandas, the single-core reference of the dataframe shape: engine.py."""
