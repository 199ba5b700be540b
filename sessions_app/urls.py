from django.urls import include, path

from . import player_views, usage_views, views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("concurrency.json", views.dashboard_concurrency, name="dashboard_concurrency"),
    path("sessions/new/", views.session_new, name="session_new"),
    path("sessions/<id:pk>/", views.session_detail, name="session_detail"),
    path("sessions/<id:pk>/transcript.txt", views.session_transcript, name="session_transcript"),
    path("sessions/<id:pk>/start/", views.session_start, name="session_start"),
    path("sessions/<id:pk>/close/", views.session_close, name="session_close"),
    path("sessions/<id:pk>/layout/", views.session_layout, name="session_layout"),
    path("sessions/<id:pk>/player.json", views.session_player, name="session_player"),
    path("sessions/<id:pk>/player-report/", player_views.session_player_report, name="session_player_report"),
    path("sessions/<id:pk>/trtc-join/", views.session_trtc_join, name="session_trtc_join"),
    path("usage/", usage_views.usage_page, name="usage"),
    path("usage/export.csv", usage_views.usage_export, name="usage_export"),
    path("audit/", include("sessions_app.audit_urls")),
]
