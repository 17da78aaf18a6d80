"""Engine adapters: one package per engine (``engines/<name>/``), the only place its
library is imported. Each package has a light ``plugin.py`` (its ``PLUGIN``: what the
engine is, its options, where its class and its deployment across test hosts live),
registered in the ``distlab.engines`` entry-point group; ``common/`` holds what several
adapters share."""
