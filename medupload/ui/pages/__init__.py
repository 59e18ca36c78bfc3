"""The three routes: /login, /patient, /staff."""
