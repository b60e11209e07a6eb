from django import forms
from django.contrib import messages
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.shortcuts import redirect, render
from django.views.decorators.debug import sensitive_variables
from django.views.decorators.http import require_http_methods

from arena.forms import RegisterForm
from arena.login_limit import LoginFailed, LoginLocked, authenticate_limited
from arena.services.accounts import user_register
from ledger.throttling import throttle_post


class LoginLimitMixin:
    """AuthenticationForm's clean(), with the password checked through arena.login_limit: each
    attempt is counted before the password is checked, and past a limit refused without running
    the password hasher."""

    retry_after = 0

    @sensitive_variables()  # as AuthenticationForm.clean: no password in error reports
    def clean(self):
        username = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if username is not None and password:
            try:
                self.user_cache = authenticate_limited(
                    request=self.request, username=username, password=password
                )
            except LoginLocked as locked:
                self.retry_after = locked.retry_after
                raise forms.ValidationError(str(locked), code="locked") from None
            except LoginFailed:
                raise self.get_invalid_login_error() from None
            self.confirm_login_allowed(self.user_cache)  # the admin's form: staff only
        return self.cleaned_data


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
