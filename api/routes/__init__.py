"""HTTP routes: the JSON API under /api/v1 and the web pages."""
