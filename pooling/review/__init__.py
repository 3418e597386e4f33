"""Review (outputs → released): the secretariat's disclosure checks, decisions and release.

``list`` finds runs waiting for review (a run directory with a ``pending_review`` manifest);
``show`` runs the automatic checks on every output and writes a review page per output;
``approve``, ``reject`` and ``return`` are a reviewer's steps: two reviewers who agree decide,
and two approvals of the same release release it. Modules: ``disclosure`` (the checks and
suppression), ``protection`` (each hidden cell's interval, by linear programming), ``examine``
(reading a run and checking it), ``signoff`` (the two-checker rule), ``pages`` (the HTML pages),
``decision`` and ``release``; the web console is :mod:`pooling.console`.
"""

from pooling.core.errors import ReviewError
from pooling.review.decision import decide
from pooling.review.examine import pending, review_run
from pooling.review.pages import write_pages
from pooling.review.signoff import summary as signoff_summary

__all__ = ["ReviewError", "decide", "pending", "review_run", "signoff_summary", "write_pages"]
