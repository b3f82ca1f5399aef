"""The alerts API: a signed-in user's subscriptions (CRUD) and the log of their deliveries."""

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from alerts import selectors, services
from alerts.models import AlertDelivery, AlertSubscription
from alerts.serializers import AlertDeliverySerializer, AlertSubscriptionSerializer
from thetool.api import require_json
from thetool.schema import READ_ERRORS, WRITE_ERRORS, error_responses

ONE_ERRORS = error_responses(*READ_ERRORS, 404)
WRITE_ONE_ERRORS = error_responses(*WRITE_ERRORS, 404)

SUBSCRIPTION_RULES = (
    "A subscription watches a target (`stock` with `target_ref` RELIANCE.NS, `all` stocks, or a `watchlist` / "
    "`screen` by id) for a `trigger`: `verdict` (the verdict changes) or `score` (the score crosses "
    "`threshold`, either way). Each change is delivered once per subscription, by `email` or `webhook` "
    "(a JSON POST signed in `X-TheTool-Signature: sha256=<HMAC-SHA256 of the body with webhook_secret>`, "
    "retried with exponential backoff). Alerts always need a signed-in user, even with open access."
)


@extend_schema_view(
    list=extend_schema(
        summary="Your alert subscriptions", responses={200: AlertSubscriptionSerializer(many=True), **ONE_ERRORS}
    ),
    retrieve=extend_schema(
        summary="One of your alert subscriptions", responses={200: AlertSubscriptionSerializer, **ONE_ERRORS}
    ),
    create=extend_schema(
        summary="Subscribe to changes",
        description=SUBSCRIPTION_RULES,
        responses={201: AlertSubscriptionSerializer, **error_responses(*WRITE_ERRORS)},
    ),
    update=extend_schema(
        summary="Replace a subscription", responses={200: AlertSubscriptionSerializer, **WRITE_ONE_ERRORS}
    ),
    partial_update=extend_schema(
        summary="Change a subscription (e.g. is_active)",
        responses={200: AlertSubscriptionSerializer, **WRITE_ONE_ERRORS},
    ),
    destroy=extend_schema(summary="Unsubscribe", responses={204: None, **ONE_ERRORS}),
)
@extend_schema(tags=["alerts"])
class AlertSubscriptionViewSet(viewsets.ModelViewSet):
    serializer_class = AlertSubscriptionSerializer
    permission_classes = [IsAuthenticated]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no user, but the model's types
            return AlertSubscription.objects.none()
        # Another user's subscription is a 404, not a 403: its existence is not theirs to know.
        return selectors.list_subscriptions_of(user=self.request.user)

    def create(self, request, *args, **kwargs):
        require_json(request)
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        subscription = services.save_subscription(user=request.user, data=serializer.validated_data)
        return Response(self.get_serializer(subscription).data, status=status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs):
        require_json(request)
        subscription = self.get_object()
        serializer = self.get_serializer(subscription, data=request.data, partial=kwargs.get("partial", False))
        serializer.is_valid(raise_exception=True)
        subscription = services.save_subscription(
            user=request.user, data=serializer.validated_data, subscription=subscription
        )
        return Response(self.get_serializer(subscription).data)

    def perform_destroy(self, instance):
        services.delete_subscription(subscription=instance)


@extend_schema_view(
    list=extend_schema(
        summary="Your alert deliveries, newest first (the delivery log)",
        responses={200: AlertDeliverySerializer(many=True), **ONE_ERRORS},
    )
)
@extend_schema(tags=["alerts"])
class AlertDeliveryViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = AlertDeliverySerializer
    permission_classes = [IsAuthenticated]
    filter_backends = []

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return AlertDelivery.objects.none()
        return selectors.list_deliveries_of(user=self.request.user)
