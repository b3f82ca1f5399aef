"""Alert routes, mounted under /api/. The delivery log first: /api/alerts/deliveries is not a subscription id."""

from rest_framework.routers import SimpleRouter

from alerts import views

router = SimpleRouter(trailing_slash="/?")
router.register("alerts/deliveries", views.AlertDeliveryViewSet, basename="api-alert-delivery")
router.register("alerts", views.AlertSubscriptionViewSet, basename="api-alert")

urlpatterns = router.urls
