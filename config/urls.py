"""The site's routes: each app's own ``urls.py``, plus the admin and the API docs."""

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path, re_path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from byok_keys import urls as byok_keys_urls
from config import health
from gateway import urls as gateway_urls
from groups import urls as groups_urls
from web import urls as web_urls

byok = [*groups_urls.urlpatterns, *byok_keys_urls.urlpatterns, *gateway_urls.byok_urlpatterns]

urlpatterns = [
    # Admin pages of the models that moved out of byok_keys (bookmarks keep working).
    re_path(
        r"^admin/byok_keys/auditevent/(?P<rest>.*)$",
        RedirectView.as_view(url="/admin/groups/auditevent/%(rest)s", query_string=True),
    ),
    re_path(
        r"^admin/byok_keys/usagerecord/(?P<rest>.*)$",
        RedirectView.as_view(url="/admin/gateway/usagerecord/%(rest)s", query_string=True),
    ),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", health.metrics, name="metrics"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    path("api/byok/", include((byok, "byok"))),
    path("", include(gateway_urls)),
    path("", include(web_urls)),
]

handler404 = "common.views.not_found"
handler500 = "common.views.server_error"
