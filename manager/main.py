"""Cloud Run entry of the manager: `uvicorn main:app` (see manager/Dockerfile)."""

from stratus.manager.app import create_app

app = create_app()
