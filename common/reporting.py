"""Error reports without request data: Django's debug page and admin mails would otherwise show POST
values and, for JSON bodies, local variables holding the body."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.views.debug import SafeExceptionReporterFilter


class NoRequestDataFilter(SafeExceptionReporterFilter):
    def get_post_parameters(self, request: HttpRequest | None) -> Any:
        if request is None:
            return {}
        return {name: self.cleansed_substitute for name in request.POST}

    def get_traceback_frame_variables(self, request: Any, tb_frame: Any) -> Any:
        # Local variables of the service's own code may hold a request body or a credential.
        module = tb_frame.f_globals.get("__name__", "")
        if module.split(".")[0] in {"byok_keys", "gateway", "groups", "providers", "common", "web"}:
            return [(name, self.cleansed_substitute) for name in tb_frame.f_locals]
        return super().get_traceback_frame_variables(request, tb_frame)
