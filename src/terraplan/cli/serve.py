"""``terraplan serve``: run the REST API under uvicorn.

With one worker process (the default) the server is the only one of its store: at startup it
fails every job a previous server left queued or running. With ``--workers N`` several
processes share the store, so each one only fails jobs whose heartbeat stopped.
"""

from __future__ import annotations

import os

import typer

from terraplan.cli.common import handle_errors


def register(app: typer.Typer) -> None:
    @app.command()
    @handle_errors
    def serve(
        host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on."),
        port: int = typer.Option(8000, "--port", min=1, max=65535, help="TCP port."),
        workers: int = typer.Option(1, "--workers", min=1,
                                    help="HTTP worker processes (uvicorn)."),
        job_workers: int | None = typer.Option(
            None, "--job-workers", min=1,
            help="Solve jobs run at once per server process (default TERRAPLAN_WORKERS)."),
        db: str | None = typer.Option(None, "--db", envvar="TERRAPLAN_DATABASE_URL",
                                      help="Store URL (default: terraplan.db here)."),
        log_level: str = typer.Option("info", "--log-level", help="uvicorn log level."),
    ) -> None:
        """Start the REST API (OpenAPI docs at /docs, schema at /openapi.json).

        Example: terraplan keys create crm --role viewer && terraplan serve --port 8000
        """
        import uvicorn

        from terraplan.services.workspace import init_store

        if db:
            os.environ["TERRAPLAN_DATABASE_URL"] = db
        if job_workers:
            os.environ["TERRAPLAN_WORKERS"] = str(job_workers)
        init_store(db)  # migrate once, before the workers start
        if workers == 1:
            from terraplan.api import create_app

            uvicorn.run(create_app(recover="all"), host=host, port=port,
                        log_level=log_level, access_log=False)
        else:
            os.environ["TERRAPLAN_API_RECOVER"] = "stale"
            uvicorn.run("terraplan.api.app:app_from_env", factory=True, host=host, port=port,
                        workers=workers, log_level=log_level, access_log=False)
