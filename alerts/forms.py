from django import forms

from alerts.models import AlertSubscription, TargetKind
from stocks.strategies import STRATEGIES


class SubscriptionForm(forms.ModelForm):
    webhook_url = forms.URLField(
        required=False,
        max_length=500,
        assume_scheme="https",
        label="Webhook URL",
        widget=forms.URLInput(attrs={"placeholder": "https://example.com/thetool-alerts"}),
    )
    # A choice of the strategies by name, not a bare number to remember.
    strategy_id = forms.TypedChoiceField(
        required=False,
        coerce=int,
        empty_value=None,
        choices=[("", "Any strategy"), *((s.id, f"{s.id}. {s.name}") for s in STRATEGIES.values())],
        label="Strategy",
    )

    class Meta:
        model = AlertSubscription
        fields = ["target_kind", "target_ref", "strategy_id", "trigger", "threshold", "channel", "email", "webhook_url"]
        labels = {
            "target_kind": "Watch",
            "target_ref": "Stock, watchlist or screen",
            "threshold": "Score threshold",
            "webhook_url": "Webhook URL",
        }
        help_texts = {
            "target_ref": "A Yahoo symbol (RELIANCE.NS); for a watchlist or saved screen, its id",
            "threshold": "Scores run from -1 to +1; an alert when a new score crosses this value (either way)",
        }
        widgets = {
            "target_ref": forms.TextInput(attrs={"placeholder": "RELIANCE.NS", "autocapitalize": "characters"}),
            "threshold": forms.NumberInput(attrs={"step": "any", "placeholder": "e.g. 0.6"}),
            "email": forms.EmailInput(attrs={"placeholder": "the account's address"}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Most subscriptions watch one stock: start there rather than at an empty "---------".
        self.fields["target_kind"].choices = TargetKind.choices
        self.fields["target_kind"].initial = TargetKind.STOCK
