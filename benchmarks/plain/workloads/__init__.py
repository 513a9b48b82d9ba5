"""Each workload's plain scripts, one folder per workload."""
