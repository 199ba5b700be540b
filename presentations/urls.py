from django.urls import path

from . import views

urlpatterns = [
    path("", views.script_list, name="script_list"),
    path("scripts/new/", views.script_new, name="script_new"),
    path("scripts/import/", views.script_import, name="script_import"),
    path("scripts/<id:pk>/", views.script_edit, name="script_edit"),
    path("scripts/<id:pk>/delete/", views.script_delete, name="script_delete"),
    path("scripts/<id:pk>/export.txt", views.script_export, name="script_export"),
    path("ssml/check/", views.ssml_check, name="ssml_check"),
    path("sessions/<id:pk>/presenter/", views.presenter, name="presenter"),
    path("sessions/<id:pk>/audience/", views.audience, name="audience"),
    path("kiosks/", views.kiosk_list, name="kiosk_list"),
    path("kiosks/new/", views.kiosk_new, name="kiosk_new"),
    path("kiosks/<slug:slug>/edit/", views.kiosk_edit, name="kiosk_edit"),
    path("kiosk/<slug:slug>/", views.kiosk_page, name="kiosk_page"),
    path("kiosk/<slug:slug>/session/", views.kiosk_session, name="kiosk_session"),
    path("kiosk/<slug:slug>/heartbeat/", views.kiosk_heartbeat, name="kiosk_heartbeat"),
    path("kiosk/<slug:slug>/close/", views.kiosk_close, name="kiosk_close"),
]
