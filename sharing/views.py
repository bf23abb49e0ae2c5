"""Share links: the owner makes, lists and revokes them next to the result; anyone holding a live
link sees the result read-only, with its files served through the link (never the owner's URLs)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from detection import files, reports
from detection import selectors as detection_selectors
from detection.charts import score_chart, still_boxes
from dfdsite.errors import DomainError, NotFound
from dfdsite.http_errors import status_for

from . import selectors, services
from .forms import ShareLinkForm

# Shared results are for the people they were handed to, not for search engines.
NOINDEX = "noindex, nofollow"


@require_http_methods(["GET", "POST"])
def share_links(request, analysis_id):
    """The analysis's share links: make one (its address is shown on the page that answers,
    once), see them all, revoke them."""
    analysis = detection_selectors.analysis_get(owner=request.user, analysis_id=analysis_id)
    form = ShareLinkForm(request.POST or None)
    created = None
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            link, token = services.share_link_create(analysis=analysis, **form.cleaned_data)
        except DomainError as error:
            form.add_error(error.field if error.field in form.fields else None, error.message)
            status = status_for(error)
        else:
            created = {"link": link, "url": request.build_absolute_uri(reverse("sharing:shared", args=[token]))}
            form = ShareLinkForm()
    elif form.is_bound:
        status = 400
    return render(request, "sharing/share_links.html", {
        "analysis": analysis, "form": form, "created": created,
        "links": selectors.share_link_list(analysis=analysis),
    }, status=status)


@require_POST
def share_link_revoke(request, analysis_id, link_id):
    analysis = detection_selectors.analysis_get(owner=request.user, analysis_id=analysis_id)
    services.share_link_revoke(link=selectors.share_link_get(analysis=analysis, link_id=link_id))
    messages.success(request, "Revoked the link: it no longer works for anyone.")
    return redirect("sharing:share_links", analysis_id=analysis.id)


def _noindex(response):
    response["X-Robots-Tag"] = NOINDEX
    response["Referrer-Policy"] = "no-referrer"  # the token is in the address: never hand it on
    return response


@login_not_required
@require_GET
def shared_analysis(request, token):
    link = selectors.shared_link_get(token=token)
    analysis = link.analysis
    frames = list(analysis.frames.all()) if analysis.status == analysis.Status.DONE else []
    for frame in frames:
        frame.thumbnail_url = reverse("sharing:shared_thumbnail", args=[token, frame.index])
        frame.heatmap_url = reverse("sharing:shared_heatmap", args=[token, frame.index])
    still = analysis.media_kind == analysis.MediaKind.IMAGE
    response = render(request, "sharing/shared_analysis.html", {
        "link": link, "token": token, "analysis": analysis, "frames": frames, "shared": True,
        "no_video": not link.include_video,
        "heatmaps": detection_selectors.frames_that_looked_manipulated(frames),
        "chart": score_chart(frames, analysis.duration_seconds) if frames and not still else None,
        "still_boxes": still_boxes(frames, analysis.width, analysis.height) if still else [],
        "still_url": reverse("sharing:shared_video", args=[token]),
        "top_face": max(frames, key=lambda f: f.probability_fake) if still and frames else None,
    })
    return _noindex(response)


@login_not_required
@require_GET
def shared_file(request, token, kind, index=None):
    link = selectors.shared_link_get(token=token)
    if kind == "video" and not link.include_video:
        raise NotFound("No such file.")
    response = files.serve_analysis_file(link.analysis, kind, index, range_header=request.headers.get("Range", ""))
    return _noindex(response)


@login_not_required
@require_GET
def shared_report(request, token, extension):
    analysis = selectors.shared_link_get(token=token).analysis
    response = reports.report_pdf_response(analysis) if extension == "pdf" else reports.report_json_response(analysis)
    return _noindex(response)
