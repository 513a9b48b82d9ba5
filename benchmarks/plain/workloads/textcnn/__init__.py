"""Kim (2014)'s text CNN (shared/workloads/textcnn) as a user would write it in each framework."""
