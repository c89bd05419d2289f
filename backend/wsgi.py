"""WSGI entry point for gunicorn in production: ``gunicorn backend.wsgi:app``."""

from backend.app import create_app

app = create_app()
