"""Pure reporting rules (stdlib only): rates, obligations, the host ranking and their policy data."""
