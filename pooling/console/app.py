"""The review console's web application (Flask): sign-in, queue, run pages, decisions, releases.

Flask because it is the most used and best documented small Python web framework, with the two
security parts we need kept by its own project: signed session cookies (itsdangerous) and, through
Flask-WTF, CSRF tokens on every form. Pages are Jinja2 templates, escaped by default.

Every page but the sign-in needs a signed-in reviewer; a session ends ``session_minutes`` after
sign-in (checked on the server, whatever the cookie says), at sign-out, and when the console
restarts (its signing key is made at start and never stored). Pages show unsuppressed cells, so
none may be cached, framed or run scripts from elsewhere.
"""

from __future__ import annotations

import re
import secrets
import time
from datetime import timedelta
from functools import wraps

from flask import (
    Flask,
    Response,
    abort,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_wtf.csrf import CSRFError, CSRFProtect

from pooling.console.desk import Desk
from pooling.console.signin import Directory
from pooling.core.errors import PoolingError
from pooling.review import signoff_summary

VERDICTS = {"approve", "reject", "return"}
RUN_ID = re.compile(r"[0-9]{8}T[0-9]{12}Z")  # as pooling.outputs.runs makes them
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",  # Flask-WTF checks the referrer under TLS
    "Cache-Control": "no-store",
}


def create_app(desk: Desk, directory: Directory, *, tls: bool) -> Flask:
    app = Flask(__name__)
    minutes = desk.conf.review.session_minutes
    app.config.update(
        SECRET_KEY=secrets.token_bytes(32),
        SESSION_COOKIE_NAME="pooling_console",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_SECURE=tls,
        PERMANENT_SESSION_LIFETIME=timedelta(minutes=minutes),
        WTF_CSRF_TIME_LIMIT=minutes * 60,
        WTF_CSRF_SSL_STRICT=tls,
        MAX_CONTENT_LENGTH=64 * 1024,
    )
    CSRFProtect(app)
    reviewers = set(desk.conf.review.reviewers)

    @app.before_request
    def _who() -> None:
        g.user = None
        user, since = session.get("user"), session.get("since", 0)
        if user and time.time() - since < minutes * 60 and user in reviewers:
            g.user = user
        elif user:
            session.clear()

    @app.after_request
    def _headers(response: Response) -> Response:
        response.headers.update(HEADERS)
        return response

    @app.errorhandler(CSRFError)
    def _csrf(e: CSRFError):
        return render_template("refused.html", message=f"Refused: {e.description}"), 400

    def signed_in(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if g.user is None:
                return redirect(url_for("signin", next=request.path))
            return view(*args, **kwargs)

        return wrapped

    @app.get("/signin")
    def signin():
        return render_template("signin.html", next=request.args.get("next", ""))

    @app.post("/signin")
    def signin_post():
        user = request.form.get("user", "").strip()
        password = request.form.get("password", "")
        if not directory.authenticates(user, password):
            flash("Wrong user name or password.")
            return render_template("signin.html", next=""), 401
        if user not in reviewers:
            flash(f"{user} is not an output checker (conf/review.yaml lists who is).")
            return render_template("signin.html", next=""), 403
        session.clear()
        session.permanent = True
        session.update(user=user, since=time.time())
        target = request.form.get("next", "")
        # Only a path of this console, never an address elsewhere (an open redirect): browsers
        # read "//host" and "/\\host" as another host.
        local = target.startswith("/") and not target.startswith(("//", "/\\"))
        return redirect(target if local else "/")

    @app.post("/signout")
    def signout():
        session.clear()
        return redirect(url_for("signin"))

    @app.get("/")
    @signed_in
    def queue():
        return render_template("queue.html", entries=desk.queue())

    def _known(project: str, run_id: str) -> str:
        """The run's reference, if it can name one: a configured project and a run id's shape
        (so no path in the URL reaches another folder)."""
        if project not in desk.conf.projects or not RUN_ID.fullmatch(run_id):
            abort(404)
        return f"{project}/{run_id}"

    def _run_or_404(project: str, run_id: str):
        ref = _known(project, run_id)
        try:
            return desk.run(ref)
        except PoolingError:
            abort(404)

    @app.get("/runs/<project>/<run_id>")
    @signed_in
    def run(project: str, run_id: str):
        r = _run_or_404(project, run_id)
        return render_template(
            "run.html", run=r, title=desk.conf.project(project).title, cells=_cell_view(r)
        )

    @app.post("/runs/<project>/<run_id>/decide")
    @signed_in
    def decide(project: str, run_id: str):
        r = _run_or_404(project, run_id)
        verdict = request.form.get("verdict", "")
        if verdict not in VERDICTS:
            abort(400)
        try:
            after = desk.decide(
                r.ref,
                verdict=verdict,
                reviewer=g.user,
                reason=request.form.get("reason", ""),
                apply_suppression=request.form.get("suppress") == "yes",
            )
        except PoolingError as e:
            flash(f"Refused: {e}")
            return redirect(url_for("run", project=project, run_id=run_id)), 303
        m = after.manifest
        flash(m.review.reason if m.review else signoff_summary(m))
        return redirect(url_for("run", project=project, run_id=run_id)), 303

    @app.get("/runs/<project>/<run_id>/<output>.png")
    @signed_in
    def chart(project: str, run_id: str, output: str):
        r = _run_or_404(project, run_id)
        if output not in r.outputs:
            abort(404)
        png = desk.chart(r.ref, output, suppressed=request.args.get("as") == "released")
        return Response(png, mimetype="image/png") if png else abort(404)

    @app.get("/released")
    @signed_in
    def released():
        return render_template("released.html", releases=desk.released())

    @app.get("/released/<project>/<run_id>/<name>")
    @signed_in
    def released_file(project: str, run_id: str, name: str):
        ref = _known(project, run_id)
        try:
            data = desk.released_file(ref, name)
        except (KeyError, FileNotFoundError, PoolingError):
            abort(404)
        kind = "image/png" if name.endswith(".png") else "text/csv; charset=utf-8"
        return Response(data, mimetype=kind.split(";")[0], headers={"Content-Type": kind})

    return app


def _cell_view(run) -> dict[str, list[list[dict]]]:
    """Per output, the table's rows as cells with their shading and the reason on hover."""
    view = {}
    for name, r in run.outputs.items():
        dims = list(r.meta.dims)
        why = {(tuple(str(c[d]) for d in dims), c["column"]): c for c in r.suppression.cells}
        rows = []
        for i in r.cells.index[:500]:
            key = tuple(str(r.cells.at[i, d]) for d in dims)
            row = []
            for col in r.cells.columns:
                v = r.cells.at[i, col]
                cell = why.get((key, col))
                reason = cell["reason"] if cell else ""
                if cell and cell.get("interval"):
                    lo, hi = cell["interval"]
                    reason += f"; a reader can narrow it to [{lo:g}, {hi:g}]"
                row.append(
                    {
                        "value": "" if v is None or v != v else v,
                        "kind": reason.split(":")[0] if reason else "",
                        "reason": reason,
                    }
                )
            rows.append(row)
        view[name] = rows
    return view
