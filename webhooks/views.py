"""Webhook pages: the endpoints (create, pause, rotate, delete, send a test event) and each
one's delivery log. Thin views over webhooks.services and webhooks.selectors; a secret is on
the page only in the answer to the request that made it."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from dfdsite.errors import DomainError

from . import selectors, services
from .forms import EndpointCreateForm


@never_cache
@require_http_methods(["GET", "POST"])
def endpoint_list(request):
    form = EndpointCreateForm(request.POST or None)
    created = None
    if request.method == "POST" and form.is_valid():
        try:
            created = services.endpoint_create(owner=request.user, url=form.cleaned_data["url"],
                                               description=form.cleaned_data["description"])
        except DomainError as error:
            form.add_service_error(error)
        else:
            form = EndpointCreateForm()
    status = 400 if form.is_bound and form.errors else 200
    return render(request, "webhooks/endpoint_list.html", {
        "form": form, "created": created, "endpoints": selectors.endpoint_list(owner=request.user),
    }, status=status)


def _detail(request, endpoint, new_secret: bool = False):
    return render(request, "webhooks/endpoint_detail.html", {
        "endpoint": endpoint, "new_secret": new_secret, "deliveries": selectors.delivery_list(endpoint=endpoint),
        "deliveries_shown": selectors.DELIVERIES_SHOWN,
    })


@never_cache
@require_GET
def endpoint_detail(request, endpoint_id):
    return _detail(request, selectors.endpoint_get(owner=request.user, endpoint_id=endpoint_id))


@never_cache
@require_POST
def endpoint_rotate(request, endpoint_id):
    endpoint = selectors.endpoint_get(owner=request.user, endpoint_id=endpoint_id)
    return _detail(request, services.endpoint_rotate_secret(endpoint=endpoint), new_secret=True)


@require_POST
def endpoint_send_test(request, endpoint_id):
    endpoint = selectors.endpoint_get(owner=request.user, endpoint_id=endpoint_id)
    services.endpoint_send_test(endpoint=endpoint)
    messages.success(request, "Test event queued: it shows below once sent. Reload the page to see it.")
    return redirect("webhooks:endpoint_detail", endpoint_id=endpoint.id)


@require_POST
def endpoint_toggle(request, endpoint_id):
    endpoint = selectors.endpoint_get(owner=request.user, endpoint_id=endpoint_id)
    endpoint = services.endpoint_update(endpoint=endpoint, is_active=not endpoint.is_active)
    messages.success(request, "Endpoint resumed: it hears of analyses again." if endpoint.is_active
                     else "Endpoint paused: it is sent nothing until you resume it.")
    return redirect("webhooks:endpoint_detail", endpoint_id=endpoint.id)


@require_POST
def endpoint_delete(request, endpoint_id):
    endpoint = selectors.endpoint_get(owner=request.user, endpoint_id=endpoint_id)
    url = endpoint.url
    services.endpoint_delete(endpoint=endpoint)
    messages.success(request, f"Deleted the endpoint {url} and its delivery log.")
    return redirect("webhooks:endpoint_list")
