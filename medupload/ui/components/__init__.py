"""Page building blocks."""
