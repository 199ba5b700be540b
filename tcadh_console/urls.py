from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, register_converter

from sessions_app.params import IdConverter

# Every id in a path: ASCII digits within the database's range, or a 404.
register_converter(IdConverter, "id")

urlpatterns = [
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("present/", include("presentations.urls")),
    path("", include("sessions_app.urls")),
]
