from __future__ import annotations

from django.urls import path

from groups import api

urlpatterns = [
    path("groups", api.GroupsView.as_view(), name="groups"),
    path("groups/<str:group_id>/users/<str:user_id>", api.GroupMemberView.as_view(), name="group-member"),
    path("groups/<str:group_id>/join", api.GroupJoinView.as_view(), name="group-join"),
    path("audit", api.AuditView.as_view(), name="audit"),
]
