"""Who each customer is: RFM scores and segments (later: lifecycle stages, buyer types)."""
