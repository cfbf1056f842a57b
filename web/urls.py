from __future__ import annotations

from django.urls import include, path

from web import views

urlpatterns = [
    path("", views.home, name="home"),
    path("byok-interface.html", views.page, name="page"),
    path("accounts/", include("django.contrib.auth.urls")),
]
