"""Inference routes: the BYOK endpoints about resolution and usage (under ``/api/byok/``) and the
gateway endpoints (``/api/inference``, ``/v1/…``)."""

from __future__ import annotations

from django.urls import path

from gateway import api

byok_urlpatterns = [
    path("keys/<str:provider>/compromised", api.UserKeyCompromisedView.as_view(), name="user-key-compromised"),
    path(
        "groups/<str:group_id>/keys/<str:provider>/compromised",
        api.GroupKeyCompromisedView.as_view(),
        name="group-key-compromised",
    ),
    path("groups/<str:group_id>/usage", api.GroupUsageView.as_view(), name="group-usage"),
    path("stats", api.StatsView.as_view(), name="stats"),
    path("resolve", api.ResolveView.as_view(), name="resolve"),
]

urlpatterns = [
    path("api/inference", api.InferenceView.as_view(), name="inference"),
    path("v1/chat/completions", api.ChatCompletionsView.as_view(), name="chat-completions"),
    path("v1/models", api.ModelsView.as_view(), name="models"),
]
