"""Alert subscriptions and deliveries as the API shows them. Cross-field rules live in services."""

from rest_framework import serializers

from alerts.models import AlertChange, AlertDelivery, AlertSubscription


class AlertSubscriptionSerializer(serializers.ModelSerializer):
    class Meta:
        model = AlertSubscription
        fields = [
            "id",
            "target_kind",
            "target_ref",
            "strategy_id",
            "trigger",
            "threshold",
            "channel",
            "email",
            "webhook_url",
            "webhook_secret",
            "is_active",
            "created_at",
        ]
        read_only_fields = ["id", "webhook_secret", "created_at"]
        extra_kwargs = {
            "webhook_secret": {"help_text": "Key of the HMAC-SHA256 signature in X-TheTool-Signature"},
            "strategy_id": {"min_value": 1, "max_value": 32767},
            "webhook_url": {"max_length": 500},
            "threshold": {"min_value": -1000.0, "max_value": 1000.0},
        }


class AlertChangeSerializer(serializers.ModelSerializer):
    class Meta:
        model = AlertChange
        fields = ["symbol", "strategy_id", "old_verdict", "new_verdict", "old_score", "new_score", "job", "detected_at"]


class AlertDeliverySerializer(serializers.ModelSerializer):
    change = AlertChangeSerializer()

    class Meta:
        model = AlertDelivery
        fields = [
            "id",
            "subscription",
            "channel",
            "status",
            "attempts",
            "next_attempt_at",
            "sent_at",
            "response_status",
            "last_error",
            "created_at",
            "change",
        ]
