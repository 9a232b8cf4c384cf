"""What every stage shares: the lab home (paths, typed lab.json), the journal, cheap argument checks."""
