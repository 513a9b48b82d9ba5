"""Each workload's twin for this framework, one module per workload, named as its folder in
shared/workloads/ (the same module name in every framework folder)."""
