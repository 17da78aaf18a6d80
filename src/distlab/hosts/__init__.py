"""Test hosts on one machine (network namespaces joined by a bridge: netns.py) and what
every engine's deployment across them shares (deploy.py, toxiproxy.py);
each engine's own deployment lives in its package (distlab.engines.<name>.hosts)."""
