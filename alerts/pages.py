"""The alerts page: a signed-in user's subscriptions, a form to add one, and the delivery log."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from alerts import selectors, services
from alerts.forms import SubscriptionForm
from thetool.exceptions import ApplicationError

DELIVERIES_SHOWN = 100


@require_http_methods(["GET", "POST"])
@login_required
def alert_list(request):
    form = SubscriptionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.save_subscription(user=request.user, data=form.cleaned_data)
        except ApplicationError as exc:
            form.add_error(exc.details.get("field"), exc.message)
        else:
            messages.success(request, "Subscribed. Each change is delivered once.")
            return redirect("alert-list")
    context = {
        "form": form,
        "subscriptions": selectors.list_subscriptions_of(user=request.user),
        "deliveries": selectors.list_deliveries_of(user=request.user)[:DELIVERIES_SHOWN],
    }
    return render(request, "alerts/alert_list.html", context, status=400 if form.errors else 200)


@require_POST
@login_required
def delete_alert(request, subscription_id: int):
    subscription = get_object_or_404(selectors.list_subscriptions_of(user=request.user), pk=subscription_id)
    services.delete_subscription(subscription=subscription)
    messages.success(request, "Unsubscribed.")
    return redirect("alert-list")
