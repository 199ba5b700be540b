from django.urls import path

from . import consumers

websocket_urlpatterns = [
    path("ws/dashboard/", consumers.DashboardConsumer.as_asgi()),
    path("ws/sessions/<int:pk>/chat/", consumers.SessionConsumer.as_asgi()),
]
