from __future__ import annotations

from django.urls import path

from byok_keys import api

urlpatterns = [
    path("providers", api.ProvidersView.as_view(), name="providers"),
    path("keys", api.KeysView.as_view(), name="keys"),
    path("tokens", api.TokensView.as_view(), name="tokens"),
    path("tokens/<str:token_id>", api.TokenView.as_view(), name="token"),
    path("keys/<str:provider>", api.UserKeyView.as_view(), name="user-key"),
    path("keys/<str:provider>/test", api.UserKeyTestView.as_view(), name="user-key-test"),
    path("groups/<str:group_id>", api.GroupDetailView.as_view(), name="group-detail"),
    path("groups/<str:group_id>/keys/<str:provider>", api.GroupKeyView.as_view(), name="group-key"),
    path("groups/<str:group_id>/keys/<str:provider>/test", api.GroupKeyTestView.as_view(), name="group-key-test"),
]
