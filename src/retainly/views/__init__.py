"""Read-only views that combine stored facts and scores: customer 360, the HTML report."""
