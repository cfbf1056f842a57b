from __future__ import annotations

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from byok_keys import api
from gateway import api as gateway_api

byok = [
    path("providers", api.ProvidersView.as_view(), name="providers"),
    path("keys", api.KeysView.as_view(), name="keys"),
    path("keys/<str:provider>", api.UserKeyView.as_view(), name="user-key"),
    path("keys/<str:provider>/test", api.UserKeyTestView.as_view(), name="user-key-test"),
    path("groups", api.GroupsView.as_view(), name="groups"),
    path("groups/<str:group_id>", api.GroupDetailView.as_view(), name="group-detail"),
    path("groups/<str:group_id>/keys/<str:provider>", api.GroupKeyView.as_view(), name="group-key"),
    path("groups/<str:group_id>/keys/<str:provider>/test", api.GroupKeyTestView.as_view(), name="group-key-test"),
    path("groups/<str:group_id>/users/<str:user_id>", api.GroupMemberView.as_view(), name="group-member"),
    path("groups/<str:group_id>/join", api.GroupJoinView.as_view(), name="group-join"),
    path("groups/<str:group_id>/usage", gateway_api.GroupUsageView.as_view(), name="group-usage"),
    path("stats", api.StatsView.as_view(), name="stats"),
    path("resolve", gateway_api.ResolveView.as_view(), name="resolve"),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/byok/", include((byok, "byok"))),
    path("api/inference", gateway_api.InferenceView.as_view(), name="inference"),
    path("v1/chat/completions", gateway_api.ChatCompletionsView.as_view(), name="chat-completions"),
    path("v1/models", gateway_api.ModelsView.as_view(), name="models"),
]

handler404 = "common.views.not_found"
handler500 = "common.views.server_error"
