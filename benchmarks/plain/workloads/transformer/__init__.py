"""The Transformer workload's plain scripts (shared/workloads/transformer): the same network as a
user writes it in each framework, with the framework's own layers and optimizer."""
