"""The account page: who you are, your API token (create, replace, revoke), password change."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from accounts import selectors, services


@require_GET
@login_required
def account(request):
    token = selectors.get_api_token(user=request.user)
    return render(request, "registration/account.html", {"token": token})


@require_POST
@login_required
def create_token(request):
    services.create_api_token(user=request.user)
    messages.success(request, "A new API token was created. Any previous token no longer works.")
    return redirect("account")


@require_POST
@login_required
def revoke_token(request):
    if services.revoke_api_token(user=request.user):
        messages.success(request, "Your API token was revoked.")
    else:
        messages.info(request, "You had no API token.")
    return redirect("account")
