"""Running the lab: bringing it up and down, the local supervisor, the compose agent (the service table they read is lab.core.services)."""
