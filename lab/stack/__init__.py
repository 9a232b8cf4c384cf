"""Running the lab: the service table, the local supervisor, the compose agent, worker heartbeats."""
