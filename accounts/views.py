from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.http import FileResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from dfdsite.errors import Invalid

from . import selectors, services
from .forms import AccountDeleteForm, ProfileForm, SignUpForm, TokenCreateForm


@login_not_required
@require_http_methods(["GET", "POST"])
def signup(request):
    if request.user.is_authenticated:
        return redirect("home")
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, f"Welcome, {user.username}. Your account is ready.")
        return redirect("home")
    return render(request, "accounts/signup.html", {"form": form})


@require_http_methods(["GET", "POST"])
def profile(request):
    form = ProfileForm(request.POST or None, instance=request.user)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, "Profile saved.")
        return redirect("accounts:profile")
    summary = selectors.account_summary(user=request.user)
    return render(request, "accounts/profile.html", {
        "form": form, "token_count": summary.tokens, "summary": summary,
    })


@never_cache
@require_http_methods(["GET", "POST"])
def tokens(request):
    """API tokens: create one (shown once, on the page that answers the form), list, revoke."""
    form = TokenCreateForm(request.POST or None)
    created = None
    if request.method == "POST" and form.is_valid():
        try:
            token, raw = services.token_create(user=request.user, name=form.cleaned_data["name"],
                                               expires_in_days=form.expires_in_days())
        except Invalid as error:
            form.add_service_error(error)
        else:
            created = {"token": token, "raw": raw}
            form = TokenCreateForm()
    status = 400 if form.is_bound and form.errors else 200
    return render(request, "accounts/tokens.html", {
        "form": form, "created": created, "tokens": selectors.token_list(user=request.user),
    }, status=status)


@require_POST
def token_revoke(request, token_id):
    token = selectors.token_get(user=request.user, token_id=token_id)  # NotFound: a 404 page
    name = token.name
    services.token_revoke(token=token)
    messages.success(request, f"Revoked the token “{name}”. Scripts using it can no longer sign in.")
    return redirect("accounts:tokens")


@require_POST
def tokens_revoke_all(request):
    revoked = services.tokens_revoke_all(user=request.user)
    messages.success(request, _revoked_message(revoked) if revoked else "You had no API tokens to revoke.")
    return redirect("accounts:tokens")


def _revoked_message(count: int) -> str:
    tokens = "token" if count == 1 else "tokens"
    return f"Revoked {count} API {tokens}: scripts using them can no longer sign in. Create new ones for them."


# A changed password is often a suspected leak: tokens made with the old one (by whoever knew
# it) must not outlive it, as the other sessions do not. So both ways of setting a new
# password revoke every token, and the pages say so beforehand.


class RevokeTokensOnNewPassword:
    def form_valid(self, form):
        response = super().form_valid(form)
        revoked = services.tokens_revoke_all(user=form.user)
        if revoked:
            messages.info(self.request, _revoked_message(revoked))
        return response


class PasswordChangeView(RevokeTokensOnNewPassword, auth_views.PasswordChangeView):
    pass


class PasswordResetConfirmView(RevokeTokensOnNewPassword, auth_views.PasswordResetConfirmView):
    pass


class PasswordResetView(auth_views.PasswordResetView):
    """Sends at most DFD_PASSWORD_RESETS_PER_EMAIL e-mails to one address, and takes at most
    DFD_PASSWORD_RESETS_PER_ADDRESS requests from one client, an hour."""

    def form_valid(self, form):
        allowed = services.password_reset_allowed(email=form.cleaned_data["email"],
                                                  ip=self.request.META.get("REMOTE_ADDR", ""))
        if not allowed:
            form.add_error(None, services.password_reset_blocked_message())
            return self.render_to_response(self.get_context_data(form=form), status=429)
        return super().form_valid(form)


# --- Your data -----------------------------------------------------------------------------------


@require_POST
def account_export(request):
    """All of one's analyses and their files as a zip. A POST (with CSRF), since building it
    takes a while: another site must not be able to make a signed-in browser start one."""
    archive, size = services.account_export(user=request.user)
    response = FileResponse(archive, as_attachment=True, filename=services.export_file_name(user=request.user),
                            content_type="application/zip")  # closes (and so deletes) the file when sent
    response["Content-Length"] = str(size)
    return response


@never_cache
@require_http_methods(["GET", "POST"])
def account_delete(request):
    form = AccountDeleteForm(request.POST or None, user=request.user, ip=request.META.get("REMOTE_ADDR", ""))
    if request.method == "POST" and form.is_valid():
        username = request.user.get_username()
        deleted = services.account_delete(user=request.user)
        logout(request)
        analyses = "analysis" if deleted == 1 else "analyses"
        messages.success(request, f"The account {username} was deleted, with its {deleted} {analyses} and "
                                  "every file, token and webhook in it.")
        return redirect("accounts:login")
    status = 400 if form.is_bound and form.errors else 200
    return render(request, "accounts/account_delete.html", {
        "form": form, "summary": selectors.account_summary(user=request.user),
    }, status=status)
