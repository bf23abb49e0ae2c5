from django.conf import settings


def site(request):
    return {
        "product_name": settings.SITE_NAME,
        # `make run` prints e-mails in its terminal instead of sending them: the reset pages say so.
        "email_to_console": settings.EMAIL_BACKEND == "django.core.mail.backends.console.EmailBackend",
    }
