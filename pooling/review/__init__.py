"""Review (outputs → released): the secretariat's disclosure checks, decisions and release.

``list`` finds runs waiting for review (a run directory with a ``pending_review`` manifest);
``show`` runs the automatic checks on every output and writes a review page per output;
``approve`` and ``reject`` decide, and an approval releases. Modules: ``disclosure`` (the checks
and suppression), ``examine`` (reading a run and checking it), ``pages`` (the HTML pages),
``decision`` and ``release``.
"""

from pooling.core.errors import ReviewError
from pooling.review.decision import decide
from pooling.review.examine import pending, review_run
from pooling.review.pages import write_pages

__all__ = ["ReviewError", "decide", "pending", "review_run", "write_pages"]
