"""The key management page and sign-in. The page is a template plus a static script that calls the
same REST API as every other client (with the session and CSRF): there is one way in for writes."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import ensure_csrf_cookie

PAGE = "/byok-interface.html"


def home(request: HttpRequest) -> HttpResponse:
    """``/``: the page for a signed-in person, sign-in for everyone else."""
    if request.user.is_authenticated:
        return HttpResponseRedirect(PAGE)
    return HttpResponseRedirect(f"/accounts/login/?next={PAGE}")


@never_cache
@ensure_csrf_cookie
@login_required
def page(request: HttpRequest) -> HttpResponse:
    return render(request, "web/page.html", {"user": request.user})
