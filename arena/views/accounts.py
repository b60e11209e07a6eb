from django import forms
from django.contrib import messages
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from arena.forms import RegisterForm
from arena.login_limit import lockout_message, login_attempt, login_succeeded
from arena.services.accounts import user_register
from ledger.throttling import throttle_post


class LoginLimitMixin:
    """Counts each password attempt before the password is checked (arena.login_limit); past
    the limit the attempt is refused without running the password hasher."""

    retry_after = 0

    def clean(self):
        username = self.cleaned_data.get("username") or ""
        if username and self.cleaned_data.get("password"):
            self.retry_after = login_attempt(request=self.request, username=username)
            if self.retry_after:
                raise forms.ValidationError(lockout_message(self.retry_after), code="locked")
            cleaned = super().clean()  # authenticates; a wrong password raises
            login_succeeded(username=username)
            return cleaned
        return super().clean()


class LimitedAuthenticationForm(LoginLimitMixin, AuthenticationForm):
    pass


class LimitedAdminAuthenticationForm(LoginLimitMixin, AdminAuthenticationForm):
    pass


class LoginView(auth_views.LoginView):
    authentication_form = LimitedAuthenticationForm

    def form_invalid(self, form):
        response = super().form_invalid(form)
        if form.retry_after:
            response.status_code = 429
            response["Retry-After"] = str(form.retry_after)
        return response


@require_http_methods(["GET", "POST"])
@throttle_post("register")
def register(request):
    form = RegisterForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = user_register(
            username=form.cleaned_data["username"],
            email=form.cleaned_data["email"],
            password=form.cleaned_data["password1"],
        )
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, f"Welcome to Arena, {user.username}.")
        return redirect("home")
    return render(request, "registration/register.html", {"form": form})
