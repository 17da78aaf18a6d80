"""Test hosts on one machine (network namespaces joined by a bridge) and the clusters
distlab deploys across them."""
