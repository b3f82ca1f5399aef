from django import forms

from alerts.models import AlertSubscription


class SubscriptionForm(forms.ModelForm):
    webhook_url = forms.URLField(required=False, max_length=500, assume_scheme="https", label="Webhook URL")

    class Meta:
        model = AlertSubscription
        fields = ["target_kind", "target_ref", "strategy_id", "trigger", "threshold", "channel", "email", "webhook_url"]
        labels = {
            "target_kind": "Watch",
            "target_ref": "Stock, watchlist or screen",
            "strategy_id": "Strategy",
            "threshold": "Score threshold",
            "webhook_url": "Webhook URL",
        }
