"""Review (outputs → released): the secretariat's disclosure checks, decisions and release."""

from pooling.review.decision import ReviewError, decide, pending, review_run, write_pages

__all__ = ["ReviewError", "decide", "pending", "review_run", "write_pages"]
