"""Services: the logic behind the CLI, the routes and the jobs. They never import FastAPI."""
