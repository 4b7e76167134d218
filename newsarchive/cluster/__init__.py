"""Many sites on a Scrapyd cluster: the cluster file, rendezvous hashing of sites to nodes, a
small Scrapyd client and the ``newsarchive cluster`` commands (docs/cluster.md)."""
