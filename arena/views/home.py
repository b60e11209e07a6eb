from django.shortcuts import render

from spaces.selectors import open_spaces


def home(request):
    return render(request, "arena/home.html", {"spaces": open_spaces().order_by("slug")[:12]})
