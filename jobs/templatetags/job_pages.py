"""Template tags for job fragments on other apps' pages.

The stock pages show the progress of the job they started (?job=<id>) through this tag, so the
stocks app never imports the jobs app (imports run one way: jobs imports stocks).
"""

from django import template

from jobs.exceptions import InvalidJobId, JobNotFound
from jobs.models import AnalysisJob
from jobs.selectors import get_job

register = template.Library()


@register.simple_tag(takes_context=True)
def tracked_job(context) -> AnalysisJob | None:
    """The job named by ?job=<id> (set after Analyze), whose progress the page shows; None when the
    parameter is absent, malformed or unknown (the page then shows no progress bar)."""
    raw = context["request"].GET.get("job", "")
    if not raw:
        return None
    try:
        return get_job(raw)
    except (InvalidJobId, JobNotFound):
        return None
