"""Users with a UUID key and an argon2-hashed, write-only password (WakaTime blog, part 2)."""
