"""The application: settings, database, services, the CLI and the web app."""
