"""Users with a name and an age, created with form-encoded ``curl -d`` posts."""
